/** The special-layer families of `npm run bench:special`; each file exports its cases. */
import type { SpecialCase } from './common.js';
import { cases as attention } from './attention.js';
import { cases as sparse } from './sparse.js';
import { cases as natten } from './natten.js';
import { cases as deform } from './deform.js';

export const FAMILIES: SpecialCase[][] = [attention, sparse, natten, deform];
