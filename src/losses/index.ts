export { l1Loss, L1Loss } from './l1';
export { contrastiveLoss, ContrastiveLoss, regularizedSslLoss, SSL_TEMPERATURE, type RegularizedSslLoss } from './contrastive';
export { diceCELoss, DiceCELoss, type DiceCEOptions } from './dice_ce';
