"""Scores of dense predictions against real labels: segmentation mIoU, keypoint PCK, depth RMSE and AbsRel.

Conventions (the HandsOff benchmark reports them; DatasetGAN/HandsOff part segmentation counts the background as a
class, so the headline mIoU includes it and the mIoU without it is reported beside it):

- **mIoU** is computed over the whole test set, not per image: intersections and unions of each class are summed
  over all pixels of all images (one confusion matrix), IoU_c = I_c / U_c, and the mean is over the classes with
  U_c > 0, i.e. present in the ground truth or in the prediction somewhere in the test set (a class neither
  labeled nor predicted anywhere is left out instead of counting as 0 or 1).
- **PCK@alpha** is the fraction of ground-truth keypoints labeled *visible* (v = 2) whose prediction lies within
  ``alpha * image_size`` pixels (alpha = 0.05: 3.2 px at 64 px); a keypoint the network did not locate (v = 0)
  counts as a miss. Hidden (v = 1) and unlabeled (v = 0) ground truth is not scored.
- **Depth RMSE** (meters) and **AbsRel** (mean of |pred - gt| / gt) are pooled over every pixel where the
  ground-truth depth is defined (> 0), over all images.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 pixel counts, rows = ground truth, columns = prediction; any equal shapes."""
    gt = np.asarray(gt, np.int64).ravel()
    pred = np.asarray(pred, np.int64).ravel()
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth and prediction differ in size: {gt.shape} vs {pred.shape}")
    if gt.size and (min(gt.min(), pred.min()) < 0 or max(gt.max(), pred.max()) >= n_classes):
        raise ValueError(f"class indices must be in 0..{n_classes - 1}")
    return np.bincount(gt * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """(C,) IoU of each class from a confusion matrix; NaN for classes neither labeled nor predicted."""
    confusion = np.asarray(confusion, np.float64)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def segmentation_scores(gt: np.ndarray, pred: np.ndarray, n_classes: int, class_names=None) -> dict:
    """``miou`` (background, class 0, included), ``miou_no_background``, ``pixel_accuracy`` and ``iou`` per class
    (name -> IoU or None) of class-index maps ``gt`` and ``pred`` (N, H, W)."""
    cm = confusion_matrix(gt, pred, n_classes)
    iou = iou_per_class(cm)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    fg = iou[1:]
    return {
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "miou_no_background": float(np.nanmean(fg)) if np.isfinite(fg).any() else float("nan"),
        "pixel_accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "iou": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou, strict=True)},
    }


def pck(gt: np.ndarray, pred: np.ndarray, image_size: int, alpha: float = 0.05) -> tuple[float, int]:
    """(PCK@alpha, number of visible ground-truth keypoints scored) for keypoints (N, K, 3) x, y, v in pixels.

    NaN when no ground-truth keypoint is visible."""
    gt, pred = np.asarray(gt, np.float64), np.asarray(pred, np.float64)
    if gt.shape != pred.shape or gt.shape[-1] != 3:
        raise ValueError(f"keypoints must both be (..., K, 3); got {gt.shape} and {pred.shape}")
    visible = gt[..., 2] == 2
    n = int(visible.sum())
    if n == 0:
        return float("nan"), 0
    dist = np.linalg.norm(gt[..., :2] - pred[..., :2], axis=-1)
    hit = (dist <= alpha * image_size) & (pred[..., 2] > 0) & visible
    return float(hit.sum() / n), n


def depth_errors(gt: np.ndarray, pred: np.ndarray) -> dict:
    """``rmse`` (meters), ``absrel`` and ``pixels`` scored, over pixels where ``gt`` (any shape, meters) > 0."""
    gt, pred = np.asarray(gt, np.float64), np.asarray(pred, np.float64)
    if gt.shape != pred.shape:
        raise ValueError(f"depth maps differ in shape: {gt.shape} vs {pred.shape}")
    defined = gt > 0
    n = int(defined.sum())
    if n == 0:
        return {"rmse": float("nan"), "absrel": float("nan"), "pixels": 0}
    err = pred[defined] - gt[defined]
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "absrel": float(np.mean(np.abs(err) / gt[defined])),
        "pixels": n,
    }


def dense_scores(gt: dict, pred: dict, n_classes: int, class_names=None, alpha: float = 0.05) -> dict:
    """All scores of predictions against labels, both dicts of ``mask`` (N, S, S), ``keypoints`` (N, K, 3) and
    ``depth`` (N, S, S): the segmentation scores, ``pck`` with ``pck_keypoints``, ``depth_rmse``,
    ``depth_absrel`` and ``depth_pixels``."""
    size = int(np.asarray(gt["mask"]).shape[-1])
    out = segmentation_scores(gt["mask"], pred["mask"], n_classes, class_names)
    out["pck"], out["pck_keypoints"] = pck(gt["keypoints"], pred["keypoints"], size, alpha)
    d = depth_errors(gt["depth"], pred["depth"])
    out.update(depth_rmse=d["rmse"], depth_absrel=d["absrel"], depth_pixels=d["pixels"])
    return out
