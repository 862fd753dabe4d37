#include "segments.h"

#include <math.h>

#include "segment_table.h"

namespace {

/* Every flag the kernels know: bits 0 to 3, so every integer up to it is a set of them. */
const double ADAM_FLAGS_ALL = ADAM_AMSGRAD | ADAM_MAXIMIZE | ADAM_COUPLED_DECAY | ADAM_DECOUPLED_DECAY;

bool is_index(double x) { return x >= 0 && x == floor(x) && x <= 9007199254740992.0; }

/* Resolves (buffer index, element offset) for n elements of type T; false if it does not fit. */
template <class T>
bool locate(const buffer_span *buffers, size_t count, double index, double offset, size_t n, T **out) {
  if (!is_index(index) || index >= static_cast<double>(count) || !is_index(offset)) return false;
  const buffer_span &b = buffers[static_cast<size_t>(index)];
  const size_t start = static_cast<size_t>(offset);
  if (b.data == nullptr && n > 0) return false;
  if (start > b.bytes / sizeof(T) || n > b.bytes / sizeof(T) - start) return false;
  *out = reinterpret_cast<T *>(b.data) + start;
  return true;
}

/* n elements of type T at the (buffer index, element offset) pair of columns starting at
 * `column` of a row (every offset column follows its buffer column). */
static_assert(PLAN_EXP_AVG_OFFSET == PLAN_EXP_AVG_BUFFER + 1 && PLAN_EXP_AVG_SQ_OFFSET == PLAN_EXP_AVG_SQ_BUFFER + 1 &&
                  PLAN_MAX_EXP_AVG_SQ_OFFSET == PLAN_MAX_EXP_AVG_SQ_BUFFER + 1 &&
                  PLAN_EXP_AVG_SCALE_OFFSET == PLAN_EXP_AVG_SCALE_BUFFER + 1 &&
                  PLAN_EXP_AVG_SQ_SCALE_OFFSET == PLAN_EXP_AVG_SQ_SCALE_BUFFER + 1 &&
                  PLAN_MAX_EXP_AVG_SQ_SCALE_OFFSET == PLAN_MAX_EXP_AVG_SQ_SCALE_BUFFER + 1,
              "an offset column follows its buffer column");
template <class T>
bool locate_column(const buffer_span *buffers, size_t count, const double *row, int column, size_t n, T **out) {
  return locate(buffers, count, row[column], row[column + 1], n, out);
}

/* The moments of a format that keeps one per element (float32, bfloat16 bits); max_exp_avg_sq
 * only with amsgrad. */
template <class Tensor>
bool locate_elementwise(const buffer_span *buffers, size_t count, const double *row, size_t n, bool ams, Tensor &t) {
  return locate_column(buffers, count, row, PLAN_EXP_AVG_BUFFER, n, &t.exp_avg) &&
         locate_column(buffers, count, row, PLAN_EXP_AVG_SQ_BUFFER, n, &t.exp_avg_sq) &&
         (!ams || locate_column(buffers, count, row, PLAN_MAX_EXP_AVG_SQ_BUFFER, n, &t.max_exp_avg_sq));
}

/* An 8-bit moment: n codes and a scale per block. */
bool locate_q8(const buffer_span *buffers, size_t count, const double *row, int codes_column, int scale_column, size_t n,
               adam_q8_moment &m) {
  const size_t blocks = (n + ADAM_Q8_BLOCK - 1) / ADAM_Q8_BLOCK;
  return locate_column(buffers, count, row, codes_column, n, &m.codes) &&
         locate_column(buffers, count, row, scale_column, blocks, &m.scale);
}

/* The moments of a row in its format; the max_exp_avg_sq column is -1 without amsgrad. */
bool locate_moments(const buffer_span *buffers, size_t count, const double *row, step_segment &seg) {
  const size_t n = seg.n;
  const bool ams = row[PLAN_MAX_EXP_AVG_SQ_BUFFER] >= 0;
  switch (seg.format) {
    case STATE_F32:
      return locate_elementwise(buffers, count, row, n, ams, seg.tensor);
    case STATE_BF16:
      return locate_elementwise(buffers, count, row, n, ams, seg.bf16);
    case STATE_Q8:
      return locate_q8(buffers, count, row, PLAN_EXP_AVG_BUFFER, PLAN_EXP_AVG_SCALE_BUFFER, n, seg.q8.exp_avg) &&
             locate_q8(buffers, count, row, PLAN_EXP_AVG_SQ_BUFFER, PLAN_EXP_AVG_SQ_SCALE_BUFFER, n, seg.q8.exp_avg_sq) &&
             (!ams || locate_q8(buffers, count, row, PLAN_MAX_EXP_AVG_SQ_BUFFER, PLAN_MAX_EXP_AVG_SQ_SCALE_BUFFER, n,
                                seg.q8.max_exp_avg_sq));
    default:
      return false;
  }
}

/* Elements from `start` on of a tensor whose moments are one per element. */
template <class Tensor>
Tensor from_element(const Tensor &t, size_t start) {
  return {t.param + start, t.grad + start, t.exp_avg + start, t.exp_avg_sq + start,
          t.max_exp_avg_sq ? t.max_exp_avg_sq + start : nullptr};
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
    const double format = row[PLAN_STATE_FORMAT];
    if (format != STATE_F32 && format != STATE_BF16 && format != STATE_Q8) return "step: bad state format";
    seg = step_segment();
    seg.n = static_cast<size_t>(row[PLAN_LENGTH]);
    seg.scalars_row = static_cast<size_t>(row[PLAN_SCALARS_ROW]);
    seg.format = static_cast<uint32_t>(format);
    float *grad = nullptr;
    bool ok = locate(buffers, buffer_count, row[PLAN_PARAM_BUFFER], row[PLAN_PARAM_OFFSET], seg.n, &seg.tensor.param) &&
              locate(buffers, buffer_count, row[PLAN_GRAD_BUFFER], row[PLAN_GRAD_OFFSET], seg.n, &grad) &&
              locate_moments(buffers, buffer_count, row, seg);
    seg.tensor.grad = grad;
    seg.bf16.param = seg.q8.param = seg.tensor.param;
    seg.bf16.grad = seg.q8.grad = grad;
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
    const bool has_max = seg.format == STATE_F32    ? seg.tensor.max_exp_avg_sq != nullptr
                         : seg.format == STATE_BF16 ? seg.bf16.max_exp_avg_sq != nullptr
                                                    : seg.q8.max_exp_avg_sq.codes != nullptr;
    if ((seg.scalars.flags & ADAM_AMSGRAD) && !has_max && seg.n > 0)
      return "step: an amsgrad segment has no max_exp_avg_sq";
  }
  return nullptr;
}

void segment_ranges(const std::vector<step_segment> &segments, std::vector<byte_range> *out) {
  out->clear();
  for (const step_segment &seg : segments) {
    const size_t n = seg.n, blocks = (n + ADAM_Q8_BLOCK - 1) / ADAM_Q8_BLOCK;
    add_range(out, seg.tensor.param, n * sizeof(float), true);
    add_range(out, seg.tensor.grad, n * sizeof(float), false);
    switch (seg.format) {
      case STATE_F32:
        add_range(out, seg.tensor.exp_avg, n * sizeof(float), true);
        add_range(out, seg.tensor.exp_avg_sq, n * sizeof(float), true);
        add_range(out, seg.tensor.max_exp_avg_sq, n * sizeof(float), true);
        break;
      case STATE_BF16:
        add_range(out, seg.bf16.exp_avg, n * sizeof(uint16_t), true);
        add_range(out, seg.bf16.exp_avg_sq, n * sizeof(uint16_t), true);
        add_range(out, seg.bf16.max_exp_avg_sq, n * sizeof(uint16_t), true);
        break;
      default:
        for (const adam_q8_moment *m : {&seg.q8.exp_avg, &seg.q8.exp_avg_sq, &seg.q8.max_exp_avg_sq}) {
          add_range(out, m->codes, n, true);
          add_range(out, m->scale, blocks * sizeof(float), true);
        }
    }
  }
  normalize_ranges(out);
}

size_t total_elements(const std::vector<step_segment> &segments) {
  size_t total = 0;
  for (const step_segment &seg : segments) total += seg.n;
  return total;
}

void run_segment(const step_kernels *kernels, const step_segment &seg, size_t start, size_t end) {
  const size_t n = end - start;
  switch (seg.format) {
    case STATE_F32: {
      const adam_tensor_f32 part = from_element(seg.tensor, start);
      kernels->f32(&part, n, &seg.scalars);
      break;
    }
    case STATE_BF16: {
      const adam_tensor_bf16 part = from_element(seg.bf16, start);
      kernels->bf16(&part, n, &seg.scalars);
      break;
    }
    default: {
      const adam_tensor_q8 &t = seg.q8;
      const size_t block = start / ADAM_Q8_BLOCK;
      const bool ams = t.max_exp_avg_sq.codes != nullptr;
      const adam_tensor_q8 part = {t.param + start,
                                   t.grad + start,
                                   {t.exp_avg.codes + start, t.exp_avg.scale + block},
                                   {t.exp_avg_sq.codes + start, t.exp_avg_sq.scale + block},
                                   {ams ? t.max_exp_avg_sq.codes + start : nullptr, ams ? t.max_exp_avg_sq.scale + block : nullptr}};
      kernels->q8(&part, n, &seg.scalars);
      break;
    }
  }
}
