// The thin Node-API binding over MPI that ZeroRedundancyOptimizer needs: world rank and size,
// reduce-scatter, all-gather, all-reduce and barrier on typed arrays. Every collective runs on
// libuv's thread pool (the event loop stays live during a step); the JS side keeps at most one
// in flight, and a mutex here makes that a guarantee, because MPI_THREAD_SERIALIZED (what init
// asks for and checks) allows calls from any thread but never two at once.
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>

#include "shard_scan.h"

#include <climits>
#include <cstring>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace {

std::mutex mpi_mutex;
bool initialized = false;
bool finalized = false;
int world_rank = 0;
int world_size = 1;

std::string MpiErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// Open MPI loads its components (btl, pml, ...) as plugins that expect libmpi's symbols in the
// global namespace; Node opens this addon, and with it libmpi, RTLD_LOCAL, so the plugins fail to
// load (Open MPI issue 3705). Re-opening the already loaded libmpi with RTLD_GLOBAL | RTLD_NOLOAD
// promotes its symbols, as mpi4py does.
std::string PromoteLibmpi() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) == 0 || info.dli_fname == nullptr) {
    return "cannot locate libmpi (dladdr failed)";
  }
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
    const char* why = dlerror();
    return std::string("cannot re-open ") + info.dli_fname + " with RTLD_GLOBAL: " + (why ? why : "unknown");
  }
  return "";
}

void FinalizeAtExit(void*) {
  // A collective still running (the process is exiting mid-step) may wait forever for a peer
  // that is gone; finalizing would wait for it. mpirun then reports the exit instead.
  std::unique_lock<std::mutex> lock(mpi_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return;
  int already = 0;
  MPI_Finalized(&already);
  if (initialized && !finalized && !already) MPI_Finalize();
  finalized = true;
}

const char* ThreadLevelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "an unknown level";
  }
}

// init(): { rank, size, threadLevel, library }. Idempotent; throws (code ERR_MPI) on failure.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mpi_mutex);
  if (finalized) {
    CodedError(env, "ERR_MPI", "MPI was already finalized in this process; it cannot be initialized again").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    std::string problem = PromoteLibmpi();
    if (!problem.empty()) {
      CodedError(env, "ERR_MPI", problem).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
      CodedError(env, "ERR_MPI", "MPI_Init_thread failed: " + MpiErrorString(rc)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    initialized = true;
    // Failures come back as return codes (then rejections), not as an abort of the job.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    napi_add_env_cleanup_hook(env, FinalizeAtExit, nullptr);
  }
  MPI_Query_thread(&provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    CodedError(env, "ERR_MPI",
               std::string("this MPI library provides only ") + ThreadLevelName(provided) +
                   "; collectives run on a worker thread and need MPI_THREAD_SERIALIZED")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  Napi::Object result = Napi::Object::New(env);
  result.Set("rank", world_rank);
  result.Set("size", world_size);
  result.Set("threadLevel", ThreadLevelName(provided));
  std::string library(version, static_cast<size_t>(length));
  while (!library.empty() && (library.back() == '\n' || library.back() == '\0')) library.pop_back();
  result.Set("library", library);
  return result;
}

// One collective on the thread pool, settling a promise. The typed arrays are referenced until
// the work completes, so garbage collection cannot free them underneath MPI.
class Collective : public Napi::AsyncWorker {
 public:
  Collective(Napi::Env env, std::vector<Napi::Value> keep)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& value : keep) refs_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual int Run() = 0;
  void Execute() override {
    std::lock_guard<std::mutex> lock(mpi_mutex);
    int rc = Run();
    if (rc != MPI_SUCCESS) SetError(MpiErrorString(rc));
  }
  void OnOK() override { Resolve(Env().Undefined()); }
  void Resolve(Napi::Value value) { deferred_.Resolve(value); }
  void OnError(const Napi::Error& error) override {
    deferred_.Reject(CodedError(Env(), "ERR_MPI", "MPI collective failed: " + error.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

class ReduceScatter : public Collective {
 public:
  // A fill: copy n floats from `from` to send + offset before reducing.
  struct Fill {
    const float* from;
    size_t offset;
    size_t n;
  };

  ReduceScatter(Napi::Env env, std::vector<Napi::Value> keep, float* send, float* recv, std::vector<int> counts, bool mean,
                std::vector<int> ranges, bool sum_sq, std::vector<Fill> fills)
      : Collective(env, std::move(keep)), send_(send), recv_(recv), counts_(std::move(counts)), mean_(mean), ranges_(std::move(ranges)),
        sum_sq_(sum_sq), fills_(std::move(fills)) {}

 protected:
  int Run() override {
    // Grads that live in arrays of their own are gathered into the flat send buffer here, on
    // the worker thread, rather than on the event loop.
    for (const Fill& f : fills_) std::memcpy(send_ + f.offset, f.from, f.n * sizeof(float));
    int rc = MPI_Reduce_scatter(send_, recv_, counts_.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    // The mean over ranks: the float32 sum divided by N once, after the reduction.
    if (mean_ && world_size > 1) {
      const float n = static_cast<float>(world_size);
      const int own = counts_[static_cast<size_t>(world_rank)];
      for (int i = 0; i < own; i++) recv_[i] = recv_[i] / n;
    }
    scan_ = ScanShard(recv_, ranges_, sum_sq_);
    return rc;
  }
  void OnOK() override {
    Napi::Object result = Napi::Object::New(Env());
    result.Set("firstNonFinite", static_cast<double>(scan_.first_non_finite));
    result.Set("sumSq", scan_.sum_sq);
    Resolve(result);
  }

 private:
  float* send_;
  float* recv_;
  std::vector<int> counts_;
  bool mean_;
  std::vector<int> ranges_;
  bool sum_sq_;
  std::vector<Fill> fills_;
  ScanResult scan_;
};

class AllGather : public Collective {
 public:
  AllGather(Napi::Env env, std::vector<Napi::Value> keep, float* buf, std::vector<int> counts)
      : Collective(env, std::move(keep)), buf_(buf), counts_(std::move(counts)), displs_(counts_.size()) {
    int at = 0;
    for (size_t i = 0; i < counts_.size(); i++) displs_[i] = at, at += counts_[i];
  }

 protected:
  int Run() override {
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf_, counts_.data(), displs_.data(), MPI_FLOAT, MPI_COMM_WORLD);
  }

 private:
  float* buf_;
  std::vector<int> counts_;
  std::vector<int> displs_;
};

class AllReduce : public Collective {
 public:
  AllReduce(Napi::Env env, std::vector<Napi::Value> keep, void* buf, int count, MPI_Datatype type, MPI_Op op)
      : Collective(env, std::move(keep)), buf_(buf), count_(count), type_(type), op_(op) {}

 protected:
  int Run() override { return MPI_Allreduce(MPI_IN_PLACE, buf_, count_, type_, op_, MPI_COMM_WORLD); }

 private:
  void* buf_;
  int count_;
  MPI_Datatype type_;
  MPI_Op op_;
};

class Barrier : public Collective {
 public:
  Barrier(Napi::Env env) : Collective(env, {}) {}

 protected:
  int Run() override { return MPI_Barrier(MPI_COMM_WORLD); }
};

bool Ready(Napi::Env env, const char* where) {
  if (initialized && !finalized) return true;
  CodedError(env, "ERR_MPI", std::string(where) + ": MPI is not initialized (call mpiWorld() first) or already finalized")
      .ThrowAsJavaScriptException();
  return false;
}

bool Fail(Napi::Env env, const char* where, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, std::string(where) + ": " + message);
  error.Set("code", Napi::String::New(env, "ERR_MPI"));
  error.ThrowAsJavaScriptException();
  return false;
}

bool TypedArrayOf(Napi::Env env, const Napi::Value& value, napi_typedarray_type type, const char* where, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    return Fail(env, where, std::string(name) + " has the wrong array type");
  }
  return true;
}

// counts: an Int32Array of world_size non-negative counts whose sum is `total`.
bool ReadCounts(Napi::Env env, const Napi::Value& value, size_t total, const char* where, std::vector<int>* out) {
  if (!TypedArrayOf(env, value, napi_int32_array, where, "counts")) return false;
  Napi::Int32Array counts = value.As<Napi::Int32Array>();
  if (counts.ElementLength() != static_cast<size_t>(world_size)) return Fail(env, where, "counts must hold one count per rank");
  size_t sum = 0;
  for (size_t i = 0; i < counts.ElementLength(); i++) {
    if (counts[i] < 0) return Fail(env, where, "counts must be non-negative");
    sum += static_cast<size_t>(counts[i]);
  }
  if (sum != total) return Fail(env, where, "counts must add up to the length of the full buffer");
  out->assign(counts.Data(), counts.Data() + counts.ElementLength());
  return true;
}

// reduceScatter(send: Float32Array, recv: Float32Array, counts: Int32Array, mean: boolean,
//               scan?: Int32Array, sumSq?: boolean, fillArrays?: Float32Array[],
//               fillOffsets?: Int32Array): Promise<{ firstNonFinite, sumSq }>
// scan: [from, to) pairs of recv to check for NaN/±Inf (and sum the squares of, with sumSq).
// fillArrays, fillOffsets: arrays copied into send at those offsets first (on the worker).
Napi::Value ReduceScatterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* where = "reduceScatter()";
  if (!Ready(env, where)) return env.Undefined();
  if (!TypedArrayOf(env, info[0], napi_float32_array, where, "send") || !TypedArrayOf(env, info[1], napi_float32_array, where, "recv")) {
    return env.Undefined();
  }
  Napi::Float32Array send = info[0].As<Napi::Float32Array>(), recv = info[1].As<Napi::Float32Array>();
  std::vector<int> counts;
  if (!ReadCounts(env, info[2], send.ElementLength(), where, &counts)) return env.Undefined();
  if (recv.ElementLength() != static_cast<size_t>(counts[static_cast<size_t>(world_rank)])) {
    Fail(env, where, "recv must hold exactly this rank's count");
    return env.Undefined();
  }
  const char* s = reinterpret_cast<const char*>(send.Data());
  const char* r = reinterpret_cast<const char*>(recv.Data());
  if (r < s + send.ByteLength() && s < r + recv.ByteLength()) {
    Fail(env, where, "send and recv must not overlap");
    return env.Undefined();
  }
  std::vector<int> ranges;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    if (!TypedArrayOf(env, info[4], napi_int32_array, where, "scan")) return env.Undefined();
    Napi::Int32Array scan = info[4].As<Napi::Int32Array>();
    if (scan.ElementLength() % 2 != 0) {
      Fail(env, where, "scan must hold [from, to) pairs");
      return env.Undefined();
    }
    for (size_t k = 0; k < scan.ElementLength(); k += 2) {
      if (scan[k] < 0 || scan[k] > scan[k + 1] || static_cast<size_t>(scan[k + 1]) > recv.ElementLength()) {
        Fail(env, where, "scan ranges must lie within recv");
        return env.Undefined();
      }
    }
    ranges.assign(scan.Data(), scan.Data() + scan.ElementLength());
  }
  const bool sum_sq = info.Length() > 5 && info[5].ToBoolean();
  // fill: an Array of Float32Arrays and an Int32Array of their offsets in send.
  std::vector<ReduceScatter::Fill> fills;
  std::vector<Napi::Value> keep = {info[0], info[1]};
  if (info.Length() > 7 && info[6].IsArray()) {
    Napi::Array arrays = info[6].As<Napi::Array>();
    if (!TypedArrayOf(env, info[7], napi_int32_array, where, "fill offsets")) return env.Undefined();
    Napi::Int32Array offsets = info[7].As<Napi::Int32Array>();
    if (offsets.ElementLength() != arrays.Length()) {
      Fail(env, where, "fill needs one offset per array");
      return env.Undefined();
    }
    for (uint32_t k = 0; k < arrays.Length(); k++) {
      Napi::Value value = arrays.Get(k);
      if (!TypedArrayOf(env, value, napi_float32_array, where, "a fill array")) return env.Undefined();
      Napi::Float32Array from = value.As<Napi::Float32Array>();
      const int offset = offsets[k];
      if (offset < 0 || static_cast<size_t>(offset) + from.ElementLength() > send.ElementLength()) {
        Fail(env, where, "a fill array must lie within send at its offset");
        return env.Undefined();
      }
      const char* f = reinterpret_cast<const char*>(from.Data());
      if ((f < s + send.ByteLength() && s < f + from.ByteLength()) || (f < r + recv.ByteLength() && r < f + from.ByteLength())) {
        Fail(env, where, "a fill array must not overlap send or recv");
        return env.Undefined();
      }
      fills.push_back({from.Data(), static_cast<size_t>(offset), from.ElementLength()});
      keep.push_back(value);
    }
  }
  auto* work = new ReduceScatter(env, std::move(keep), send.Data(), recv.Data(), std::move(counts), info[3].ToBoolean(), std::move(ranges), sum_sq,
                                 std::move(fills));
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

// allGather(buf: Float32Array, counts: Int32Array): Promise — in place, rank r's block at the
// sum of the counts before it.
Napi::Value AllGatherJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* where = "allGather()";
  if (!Ready(env, where)) return env.Undefined();
  if (!TypedArrayOf(env, info[0], napi_float32_array, where, "buf")) return env.Undefined();
  Napi::Float32Array buf = info[0].As<Napi::Float32Array>();
  std::vector<int> counts;
  if (!ReadCounts(env, info[1], buf.ElementLength(), where, &counts)) return env.Undefined();
  auto* work = new AllGather(env, {info[0]}, buf.Data(), std::move(counts));
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

// allReduce(buf: Float64Array | Int32Array, op: 'sum' | 'max' | 'min'): Promise — in place.
Napi::Value AllReduceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* where = "allReduce()";
  if (!Ready(env, where)) return env.Undefined();
  if (!info[0].IsTypedArray()) {
    Fail(env, where, "buf must be a Float64Array or an Int32Array");
    return env.Undefined();
  }
  Napi::TypedArray buf = info[0].As<Napi::TypedArray>();
  MPI_Datatype type;
  if (buf.TypedArrayType() == napi_float64_array) type = MPI_DOUBLE;
  else if (buf.TypedArrayType() == napi_int32_array) type = MPI_INT;
  else {
    Fail(env, where, "buf must be a Float64Array or an Int32Array");
    return env.Undefined();
  }
  std::string name = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  MPI_Op op = name == "sum" ? MPI_SUM : name == "max" ? MPI_MAX : name == "min" ? MPI_MIN : MPI_OP_NULL;
  if (op == MPI_OP_NULL) {
    Fail(env, where, "op must be 'sum', 'max' or 'min'");
    return env.Undefined();
  }
  if (buf.ElementLength() > static_cast<size_t>(INT_MAX)) {
    Fail(env, where, "buf is too long for one MPI call");
    return env.Undefined();
  }
  void* data = static_cast<char*>(buf.ArrayBuffer().Data()) + buf.ByteOffset();
  auto* work = new AllReduce(env, {info[0]}, data, static_cast<int>(buf.ElementLength()), type, op);
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

Napi::Value BarrierJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env, "barrier()")) return env.Undefined();
  auto* work = new Barrier(env);
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("reduceScatter", Napi::Function::New(env, ReduceScatterJs));
  exports.Set("allGather", Napi::Function::New(env, AllGatherJs));
  exports.Set("allReduce", Napi::Function::New(env, AllReduceJs));
  exports.Set("barrier", Napi::Function::New(env, BarrierJs));
  return exports;
}

}  // namespace

NODE_API_MODULE(simd_adam_mpi, Module)
