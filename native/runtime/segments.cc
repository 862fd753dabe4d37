#include "segments.h"

#include <math.h>

#include "segment_table.h"

namespace {

/* Every flag the kernels know: bits 0 to 3, so every integer up to it is a set of them. */
const double ADAM_FLAGS_ALL = ADAM_AMSGRAD | ADAM_MAXIMIZE | ADAM_COUPLED_DECAY | ADAM_DECOUPLED_DECAY;

bool is_index(double x) { return x >= 0 && x == floor(x) && x <= 9007199254740992.0; }

/* Resolves (buffer index, element offset) for n floats; false if it does not fit. */
bool locate(const buffer_span *buffers, size_t count, double index, double offset, size_t n, float **out) {
  if (!is_index(index) || index >= static_cast<double>(count) || !is_index(offset)) return false;
  const buffer_span &b = buffers[static_cast<size_t>(index)];
  const size_t start = static_cast<size_t>(offset);
  if (b.data == nullptr && n > 0) return false;
  if (start > b.bytes / sizeof(float) || n > b.bytes / sizeof(float) - start) return false;
  *out = reinterpret_cast<float *>(b.data) + start;
  return true;
}

}  // namespace

bool locate_view(const buffer_span *buffers, size_t count, double index, double offset, double n, float **out,
                 size_t *length) {
  if (!is_index(n) || !locate(buffers, count, index, offset, static_cast<size_t>(n), out)) return false;
  *length = static_cast<size_t>(n);
  return true;
}

const char *decode_segments(const buffer_span *buffers, size_t buffer_count, const double *table, size_t rows,
                            std::vector<step_segment> *out) {
  out->resize(rows);
  for (size_t k = 0; k < rows; ++k) {
    const double *row = table + k * PLAN_SEGMENT_STRIDE;
    step_segment &seg = (*out)[k];
    if (!is_index(row[PLAN_LENGTH]) || !is_index(row[PLAN_SCALARS_ROW])) return "step: bad segment length or scalars row";
    seg.n = static_cast<size_t>(row[PLAN_LENGTH]);
    seg.scalars_row = static_cast<size_t>(row[PLAN_SCALARS_ROW]);
    float *grad = nullptr;
    bool ok = locate(buffers, buffer_count, row[PLAN_PARAM_BUFFER], row[PLAN_PARAM_OFFSET], seg.n, &seg.tensor.param) &&
              locate(buffers, buffer_count, row[PLAN_GRAD_BUFFER], row[PLAN_GRAD_OFFSET], seg.n, &grad) &&
              locate(buffers, buffer_count, row[PLAN_EXP_AVG_BUFFER], row[PLAN_EXP_AVG_OFFSET], seg.n, &seg.tensor.exp_avg) &&
              locate(buffers, buffer_count, row[PLAN_EXP_AVG_SQ_BUFFER], row[PLAN_EXP_AVG_SQ_OFFSET], seg.n, &seg.tensor.exp_avg_sq);
    seg.tensor.grad = grad;
    seg.tensor.max_exp_avg_sq = nullptr;
    if (ok && row[PLAN_MAX_EXP_AVG_SQ_BUFFER] >= 0)
      ok = locate(buffers, buffer_count, row[PLAN_MAX_EXP_AVG_SQ_BUFFER], row[PLAN_MAX_EXP_AVG_SQ_OFFSET], seg.n,
                  &seg.tensor.max_exp_avg_sq);
    if (!ok) return "step: a segment does not fit its buffer (detached?)";
  }
  return nullptr;
}

const char *apply_scalars(const double *scalars, size_t scalar_rows, std::vector<step_segment> *segments) {
  std::vector<adam_scalars_f32> rows(scalar_rows);
  for (size_t r = 0; r < scalar_rows; ++r) {
    const double *sc = scalars + r * PLAN_SCALARS_STRIDE;
    rows[r] = {static_cast<float>(sc[SCALAR_BETA1]), static_cast<float>(sc[SCALAR_ONE_MINUS_BETA1]),
               static_cast<float>(sc[SCALAR_BETA2]), static_cast<float>(sc[SCALAR_ONE_MINUS_BETA2]),
               static_cast<float>(sc[SCALAR_EPS]), static_cast<float>(sc[SCALAR_WEIGHT_DECAY]),
               static_cast<float>(sc[SCALAR_DECAY_FACTOR]), static_cast<float>(sc[SCALAR_BIAS_CORRECTION2_SQRT]),
               static_cast<float>(sc[SCALAR_NEG_STEP_SIZE]), 0u};
    /* A double outside uint32_t's range makes the cast undefined: check it is a known bit set. */
    const double flags = sc[SCALAR_FLAGS];
    if (!is_index(flags) || flags > ADAM_FLAGS_ALL) return "step: a scalars row has flags that are not a set of known bits";
    rows[r].flags = static_cast<uint32_t>(flags);
  }
  for (step_segment &seg : *segments) {
    if (seg.scalars_row >= scalar_rows) return "step: a segment names a scalars row that does not exist";
    seg.scalars = rows[seg.scalars_row];
    if ((seg.scalars.flags & ADAM_AMSGRAD) && seg.tensor.max_exp_avg_sq == nullptr && seg.n > 0)
      return "step: an amsgrad segment has no max_exp_avg_sq";
  }
  return nullptr;
}

void segment_ranges(const std::vector<step_segment> &segments, std::vector<byte_range> *out) {
  out->clear();
  for (const step_segment &seg : segments) {
    const size_t bytes = seg.n * sizeof(float);
    add_range(out, seg.tensor.param, bytes, true);
    add_range(out, seg.tensor.grad, bytes, false);
    add_range(out, seg.tensor.exp_avg, bytes, true);
    add_range(out, seg.tensor.exp_avg_sq, bytes, true);
    add_range(out, seg.tensor.max_exp_avg_sq, bytes, true);
  }
  normalize_ranges(out);
}

size_t total_elements(const std::vector<step_segment> &segments) {
  size_t total = 0;
  for (const step_segment &seg : segments) total += seg.n;
  return total;
}
