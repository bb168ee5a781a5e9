/**
 * Timestamp queries for timed compute passes: one query set with a begin/end pair per pass, and
 * the resolve and read-back buffers, made once and reused by every submission that records them.
 * Shared by the timing harness (each execution its own pass) and the whole-model run (each layer
 * its own pass, and the end-to-end pass).
 */
export class PassTimestamps {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private readonly readBuf: GPUBuffer;

  constructor(private readonly device: GPUDevice, readonly passes: number, label: string) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * passes, label });
    this.resolveBuf = device.createBuffer({ size: 16 * passes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: `${label} resolve` });
    this.readBuf = device.createBuffer({ size: 16 * passes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${label} read` });
  }

  /** The timestamp writes of pass `i`: at its beginning and its end. */
  writes(i: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve and the copy to the read-back buffer for the first `passes` passes; call after the passes. */
  encodeResolve(encoder: GPUCommandEncoder, passes = this.passes): void {
    encoder.resolveQuerySet(this.querySet, 0, 2 * passes, this.resolveBuf, 0);
    encoder.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, 16 * passes);
  }

  /** After the submission: each pass's [begin, end] in ms, relative to the first pass's begin. */
  async read(passes = this.passes): Promise<Array<[number, number]>> {
    await this.readBuf.mapAsync(GPUMapMode.READ, 0, 16 * passes);
    const ts = new BigUint64Array(this.readBuf.getMappedRange(0, 16 * passes).slice(0));
    this.readBuf.unmap();
    return Array.from({ length: passes }, (_, i) => [Number(ts[2 * i] - ts[0]) / 1e6, Number(ts[2 * i + 1] - ts[0]) / 1e6]);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
    this.readBuf.destroy();
  }
}
