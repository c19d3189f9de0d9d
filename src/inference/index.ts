export { importanceMap } from './importance';
export type { BlendMode, Triple } from './importance';
export {
  SlidingWindowInferer,
  planWindows,
  resolveRoi,
  scanInterval,
  slidingWindowInference,
  windowStarts,
} from './sliding_window';
export type { ChannelFirstVolume, Predictor, SlidingWindowOptions, WindowPlan } from './sliding_window';
export { preprocessForSegmentation, resampleLabelsNearest, segmentVolume, unetrPredictor } from './segment';
export type { LabelVolume, SegmentOptions, SegmentResult, SegmentStage } from './segment';
