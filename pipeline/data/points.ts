/** A batch of sparse points in compressed-sparse-row form; columns ascend within each point. */
export interface SparsePoints {
  n: number; // features
  count: number; // points
  rowPtr: Uint32Array; // count + 1 offsets into col/val
  col: Uint32Array;
  val: Float32Array;
}
