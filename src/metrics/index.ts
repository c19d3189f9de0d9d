export { computeDice, argmaxIds, meanDice, runningMeanOfMeans, DiceMetric, type DiceMetricOptions } from './dice';
