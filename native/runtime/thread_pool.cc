#include "thread_pool.h"

#include "segment_table.h"

#include <stdint.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace {

/* Fork/join costs about a microsecond on an idle machine, and a second thread pays from about
 * 64K elements there (docs/threads-and-async.md); on a busy one waking it costs more, and at 64K (in cache, ~25 us)
 * it measured slower than one thread. From 128K on it breaks even or wins, loaded or not. */
const size_t DEFAULT_PARALLEL_MIN = 131072;
const size_t FLOATS_PER_LINE = 64 / sizeof(float);

/* A position in the concatenation of all segments: element `offset` of segment `segment`. */
struct cut {
  size_t segment;
  size_t offset;
};

struct job {
  const step_segment *segments;
  size_t count;
  const step_kernels *kernels;
  const cut *cuts; /* chunk k is [cuts[k], cuts[k + 1]) */
  size_t chunks;
  std::atomic<size_t> next{0};
};

void run_chunk(const job &j, size_t k) {
  const cut a = j.cuts[k], b = j.cuts[k + 1];
  for (size_t s = a.segment; s <= b.segment && s < j.count; ++s) {
    const step_segment &seg = j.segments[s];
    const size_t start = s == a.segment ? a.offset : 0;
    const size_t end = s == b.segment ? b.offset : seg.n;
    if (end <= start) continue;
    run_segment(j.kernels, seg, start, end);
  }
}

void drain(job &j) {
  for (size_t k; (k = j.next.fetch_add(1, std::memory_order_relaxed)) < j.chunks;) run_chunk(j, k);
}

/* Moves `end` up to the next 64-byte boundary of the param array, so that two threads never
 * write the same cache line of it (nor of the state arrays, whose arenas share its alignment
 * when the parameters come from one ParameterStore). 8-bit state: up to the next block start
 * of the segment instead (a block, 1 KiB of parameters, is also whole cache lines when the
 * parameter is aligned), so that no block is split between kernel calls. */
size_t align_cut(const step_segment &seg, size_t end) {
  if (seg.format == STATE_Q8) return (end + ADAM_Q8_BLOCK - 1) / ADAM_Q8_BLOCK * ADAM_Q8_BLOCK;
  const uintptr_t address = reinterpret_cast<uintptr_t>(seg.tensor.param + end);
  const size_t misaligned = (address / sizeof(float)) % FLOATS_PER_LINE;
  return end + (FLOATS_PER_LINE - misaligned) % FLOATS_PER_LINE;
}

void make_cuts(const step_segment *segments, size_t count, size_t chunk, std::vector<cut> *cuts) {
  cuts->clear();
  cuts->push_back({0, 0});
  size_t filled = 0;
  for (size_t s = 0; s < count; ++s) {
    const size_t n = segments[s].n;
    size_t pos = 0;
    while (pos < n) {
      size_t end = pos + (n - pos < chunk - filled ? n - pos : chunk - filled);
      if (filled + (end - pos) == chunk && end < n) {
        end = align_cut(segments[s], end);
        if (end > n) end = n;
      }
      filled += end - pos;
      pos = end;
      if (filled >= chunk) {
        cuts->push_back(pos < n ? cut{s, pos} : cut{s + 1, 0});
        filled = 0;
      }
    }
  }
  if (filled > 0) cuts->push_back({count, 0});
}

class pool {
 public:
  void set_threads(size_t n) {
    std::lock_guard<std::mutex> running(run_lock_);
    stop_workers();
    threads_.store(n < 1 ? 1 : n);
  }
  size_t threads() const { return threads_.load(); }
  void set_chunk(size_t n) { chunk_.store(n); }
  void set_parallel_min(size_t n) { parallel_min_.store(n ? n : DEFAULT_PARALLEL_MIN); }

  void execute(const step_segment *segments, size_t count, const step_kernels *kernels) {
    size_t total = 0;
    for (size_t s = 0; s < count; ++s) total += segments[s].n;
    std::unique_lock<std::mutex> running(run_lock_, std::try_to_lock);
    /* threads_ changes only under run_lock_: read it once that is held (or not at all). */
    const size_t threads = running.owns_lock() ? threads_.load() : 1;
    if (threads < 2 || total < parallel_min_.load()) {
      for (size_t s = 0; s < count; ++s) run_segment(kernels, segments[s], 0, segments[s].n);
      return;
    }
    if (workers_.size() + 1 != threads) start_workers();
    size_t chunk = chunk_.load();
    if (chunk == 0) {
      /* Many small chunks: a thread the OS deschedules mid-chunk (a busy machine) holds up the
       * step by at most one short chunk once it runs again, and the others take the rest. */
      chunk = total / (threads * 64);
      if (chunk < 16384) chunk = 16384;
    }
    chunk = (chunk + FLOATS_PER_LINE - 1) / FLOATS_PER_LINE * FLOATS_PER_LINE;
    make_cuts(segments, count, chunk, &cuts_);
    job j;
    j.segments = segments;
    j.count = count;
    j.kernels = kernels;
    j.cuts = cuts_.data();
    j.chunks = cuts_.size() - 1;
    {
      std::lock_guard<std::mutex> lock(m_);
      current_ = &j;
      ++generation_;
    }
    wake_.notify_all();
    drain(j);
    /* Close the job: a worker that wakes only now must not touch it; wait for those inside. */
    std::unique_lock<std::mutex> lock(m_);
    current_ = nullptr;
    done_.wait(lock, [&] { return inside_ == 0; });
  }

 private:
  void start_workers() {
    stop_workers();
    for (size_t i = 1; i < threads_.load(); ++i) workers_.emplace_back([this] { work(); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread &t : workers_) t.join();
    workers_.clear();
    std::lock_guard<std::mutex> lock(m_);
    stop_ = false;
  }

  void work() {
    uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      seen = generation_;
    }
    for (;;) {
      job *j = nullptr;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        j = current_;
        if (j == nullptr) continue;
        ++inside_;
      }
      drain(*j);
      {
        std::lock_guard<std::mutex> lock(m_);
        --inside_;
      }
      done_.notify_all();
    }
  }

  std::mutex run_lock_; /* one parallel step at a time */
  std::mutex m_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::vector<cut> cuts_;
  job *current_ = nullptr;
  uint64_t generation_ = 0;
  size_t inside_ = 0;
  bool stop_ = false;
  std::atomic<size_t> threads_{1};
  std::atomic<size_t> chunk_{0};
  std::atomic<size_t> parallel_min_{DEFAULT_PARALLEL_MIN};
};

/* The cores this process may run on: its CPU affinity where the OS has one (a container limited
 * to 2 of 64 cores gets 2 threads, as os.availableParallelism() says), else the host's count. */
size_t default_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<size_t>(CPU_COUNT(&set));
#endif
  const unsigned cores = std::thread::hardware_concurrency();
  return cores ? cores : 1;
}

/* Never destroyed: joining at process exit could wait on a thread the runtime already froze,
 * and the OS reclaims idle workers anyway. Sized once, when first used: loading the addon in
 * another worker never resets a count set by setNumThreads. */
pool &the_pool() {
  static pool *p = [] {
    pool *created = new pool();
    created->set_threads(default_threads());
    return created;
  }();
  return *p;
}

}  // namespace

void pool_set_threads(size_t n) { the_pool().set_threads(n); }
size_t pool_threads(void) { return the_pool().threads(); }
void pool_set_chunk_elements(size_t n) { the_pool().set_chunk(n); }
void pool_set_parallel_min(size_t n) { the_pool().set_parallel_min(n); }

void execute_segments(const step_segment *segments, size_t count, const step_kernels *kernels) {
  the_pool().execute(segments, count, kernels);
}
