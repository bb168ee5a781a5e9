/** One numbered schema change (index.ts lists them in order). */
export interface Migration {
  version: number;
  name: string;
  up: string;
  /** The same change in PostgreSQL's SQL, where `up` does not translate. */
  postgres?: string;
}
