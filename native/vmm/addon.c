/*
 * N-API binding of the engine (plain C, node_api.h). src/backends/hyperlight/vmm.ts is the only caller: it turns
 * the error codes thrown here (AK_VALIDATION, AK_CONFLICT, AK_UNAVAILABLE, AK_INTERNAL) into typed errors.
 *
 * Handles are externals with type tags, so a VM cannot be passed where a snapshot is expected. Blocking work (runs,
 * snapshot copies, creation from JS async, teardown) goes to runner threads; its result comes back through one
 * thread-safe function per Node environment, which keeps the event loop alive only while jobs are in flight.
 * A handle's C state is reference-counted (the JS external + each job in flight), so neither a garbage-collected
 * handle nor an environment shutting down can free what a runner thread still uses.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "vmm.h"

static const napi_type_tag VM_TAG = {0x616b766d5f766d31ull, 0x9d3c2a51e4b07f16ull};
static const napi_type_tag SNAP_TAG = {0x616b766d5f736e31ull, 0x4f1e8d27c93a6b05ull};

/* Per Node environment. Runner threads check `closing` under `lock` before using the thread-safe function,
 * which Node destroys during the environment's teardown; jobs in flight keep this struct alive (refs). */
struct env_data {
  napi_threadsafe_function tsfn;
  int in_flight;          /* jobs awaited from JS (JS thread only): the loop is kept alive while > 0 */
  pthread_mutex_t lock;
  int closing;
  atomic_int refs;        /* the environment + each job in flight */
};

static void env_data_unref(struct env_data *ed) {
  if (!ed || atomic_fetch_sub(&ed->refs, 1) != 1) return;
  pthread_mutex_destroy(&ed->lock);
  free(ed);
}

struct vm_handle {
  atomic_int refs;        /* the JS external + each job in flight */
  struct ak_vm *vm;       /* NULL once disposal started */
  int busy;               /* a job on this VM is in flight (JS thread only) */
  napi_ref view;          /* the live zero-copy view of guest memory (weak), detached before the memory changes hands */
};

struct snap_handle {
  struct ak_snapshot *snap;   /* NULL once released */
};

enum job_type { JOB_RUN, JOB_SNAPSHOT, JOB_CREATE, JOB_DISPOSE };

struct job {
  struct ak_job base;
  enum job_type type;
  struct env_data *ed;    /* NULL when nobody awaits the result */
  napi_deferred deferred;
  napi_ref keep;          /* the external, kept from the garbage collector while the job runs */
  struct vm_handle *h;
  struct ak_vm *vm;
  struct ak_snapshot *snap;
  uint64_t deadline_ns;
  struct ak_exit exit;
  char err[AK_ERR_LEN];
};

/* ---------- small helpers ---------- */

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return throw_internal(env, #call); \
  } while (0)

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}
static napi_value throw_internal(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  char msg[AK_ERR_LEN];
  snprintf(msg, sizeof msg, "N-API call failed: %s (%s)", what, info && info->error_message ? info->error_message : "?");
  return throw_code(env, "AK_INTERNAL", msg);
}

static napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}
static void set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value x;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, obj, key, x);
}
static void set_big(napi_env env, napi_value obj, const char *key, uint64_t v) {
  napi_value x;
  napi_create_bigint_uint64(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}
static void set_bool(napi_env env, napi_value obj, const char *key, int v) {
  napi_value x;
  napi_get_boolean(env, v != 0, &x);
  napi_set_named_property(env, obj, key, x);
}

/* A non-negative integer given as a number (exact) or a bigint. */
static int get_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_bigint) {
    bool lossless = false;
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless ? 0 : -1;
  }
  if (t != napi_number) return -1;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(uint64_t)d) return -1;
  *out = (uint64_t)d;
  return 0;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return 0;
}

static void *get_handle(napi_env env, napi_value v, const napi_type_tag *tag) {
  bool ok = false;
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

static struct vm_handle *get_vm(napi_env env, napi_value v) {
  struct vm_handle *h = get_handle(env, v, &VM_TAG);
  if (!h) throw_code(env, "AK_VALIDATION", "not a VM handle");
  return h;
}

/* The VM of h, idle and not disposed, or NULL with an exception pending. */
static struct ak_vm *idle_vm(napi_env env, struct vm_handle *h) {
  if (!h->vm) {
    throw_code(env, "AK_CONFLICT", "the VM has been disposed");
    return NULL;
  }
  if (h->busy) {
    throw_code(env, "AK_CONFLICT", "the VM is busy (a run or snapshot is in progress)");
    return NULL;
  }
  return h->vm;
}

/* ---------- handle lifetimes ---------- */

/* Detaches the view of guest memory, if any: from then on JS sees a zero-length buffer, never unmapped memory. */
static void drop_view(napi_env env, struct vm_handle *h) {
  if (!h->view) return;
  napi_value ab = NULL;
  if (napi_get_reference_value(env, h->view, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
  napi_delete_reference(env, h->view);
  h->view = NULL;
}

static void vm_handle_unref(struct vm_handle *h) {
  if (atomic_fetch_sub(&h->refs, 1) != 1) return;
  /* Last reference: nobody can run it any more. Happens on the JS thread or, at shutdown, a runner. */
  if (h->vm) ak_vm_destroy(h->vm);
  free(h);
}

static void dispose_work(struct ak_job *j) {
  struct job *job = (struct job *)j;
  ak_vm_destroy(job->vm);
  job->vm = NULL;
}
static void free_job_done(struct ak_job *j) { free(j); }

/* Tears the VM down on a runner thread; inline only if no thread can be started. */
static void dispose_detached(struct ak_vm *vm) {
  struct job *job = calloc(1, sizeof *job);
  if (job) {
    job->type = JOB_DISPOSE;
    job->vm = vm;
    job->base.work = dispose_work;
    job->base.done = free_job_done;
    if (ak_runner_submit(&job->base, job->err) == 0) return;
    free(job);
  }
  ak_vm_destroy(vm);
}

static void vm_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct vm_handle *h = data;
  drop_view(env, h);
  /* A job in flight holds its own reference and keeps the external alive, so here the VM is idle. */
  if (h->vm && !h->busy) {
    struct ak_vm *vm = h->vm;
    h->vm = NULL;
    dispose_detached(vm);
  }
  vm_handle_unref(h);
}

static void snap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct snap_handle *s = data;
  ak_snapshot_unref(s->snap);
  free(s);
}

static napi_value wrap_vm(napi_env env, struct ak_vm *vm) {
  struct vm_handle *h = calloc(1, sizeof *h);
  if (!h) {
    ak_vm_destroy(vm);
    return throw_code(env, "AK_INTERNAL", "out of memory");
  }
  atomic_init(&h->refs, 1);
  h->vm = vm;
  napi_value ext;
  if (napi_create_external(env, h, vm_finalize, NULL, &ext) != napi_ok) {
    ak_vm_destroy(vm);
    free(h);
    return throw_internal(env, "napi_create_external");
  }
  napi_type_tag_object(env, ext, &VM_TAG);
  return ext;
}

/* Takes the caller's reference on snap. */
static napi_value wrap_snapshot(napi_env env, struct ak_snapshot *snap) {
  struct snap_handle *s = calloc(1, sizeof *s);
  if (!s) {
    ak_snapshot_unref(snap);
    return throw_code(env, "AK_INTERNAL", "out of memory");
  }
  s->snap = snap;
  napi_value ext;
  if (napi_create_external(env, s, snap_finalize, NULL, &ext) != napi_ok) {
    ak_snapshot_unref(snap);
    free(s);
    return throw_internal(env, "napi_create_external");
  }
  napi_type_tag_object(env, ext, &SNAP_TAG);
  return ext;
}

/* ---------- jobs ---------- */

static const char *exit_kind_name(enum ak_exit_kind k) {
  switch (k) {
    case AK_EXIT_PORT: return "port";
    case AK_EXIT_FAULT: return "fault";
    case AK_EXIT_TIMEOUT: return "timeout";
    case AK_EXIT_CANCELLED: return "cancelled";
    default: return "unexpected";
  }
}

/* What a job leaves behind when its result can no longer reach JavaScript. */
static void job_discard(struct job *job) {
  if ((job->type == JOB_CREATE || job->type == JOB_DISPOSE) && job->vm) ak_vm_destroy(job->vm);
  if (job->snap) ak_snapshot_unref(job->snap);
  if (job->h) vm_handle_unref(job->h);
  env_data_unref(job->ed);
  free(job);
}

static void job_done(struct ak_job *j) {
  struct job *job = (struct job *)j;
  struct env_data *ed = job->ed;
  pthread_mutex_lock(&ed->lock);
  int sent = !ed->closing && napi_call_threadsafe_function(ed->tsfn, job, napi_tsfn_nonblocking) == napi_ok;
  pthread_mutex_unlock(&ed->lock);
  if (!sent) job_discard(job);
}

static napi_value settle_value(napi_env env, struct job *job, int *ok) {
  napi_value v = NULL;
  *ok = 1;
  switch (job->type) {
    case JOB_RUN: {
      struct ak_exit *e = &job->exit;
      napi_create_object(env, &v);
      set_str(env, v, "kind", exit_kind_name(e->kind));
      set_num(env, v, "port", e->port);
      set_num(env, v, "value", e->value);
      set_big(env, v, "rip", e->rip);
      set_num(env, v, "kvmReason", e->kvm_reason == UINT32_MAX ? -1 : (double)e->kvm_reason);
      set_str(env, v, "detail", e->detail);
      set_num(env, v, "runNs", (double)e->run_ns);
      break;
    }
    case JOB_SNAPSHOT:
    case JOB_CREATE:
      if (job->type == JOB_SNAPSHOT ? !job->snap : !job->vm) {
        *ok = 0;
        napi_value code, msg;
        napi_create_string_utf8(env, "AK_INTERNAL", NAPI_AUTO_LENGTH, &code);
        napi_create_string_utf8(env, job->err, NAPI_AUTO_LENGTH, &msg);
        napi_create_error(env, code, msg, &v);
      } else if (job->type == JOB_SNAPSHOT) {
        struct ak_snapshot *s = job->snap;
        job->snap = NULL;
        v = wrap_snapshot(env, s);
      } else {
        struct ak_vm *vm = job->vm;
        job->vm = NULL;
        v = wrap_vm(env, vm);
      }
      break;
    case JOB_DISPOSE:
      v = undefined(env);
      break;
  }
  if (!v) {
    /* wrap_* threw: hand the pending exception to the promise instead */
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    *ok = 0;
    v = exc;
  }
  return v;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)cb;
  (void)context;
  struct job *job = data;
  if (!env) {   /* the environment is going away */
    job_discard(job);
    return;
  }
  struct env_data *ed = job->ed;
  if (job->h) job->h->busy = 0;
  int ok;
  napi_value v = settle_value(env, job, &ok);
  if (ok) napi_resolve_deferred(env, job->deferred, v);
  else napi_reject_deferred(env, job->deferred, v);
  if (job->keep) napi_delete_reference(env, job->keep);
  job->keep = NULL;
  if (--ed->in_flight == 0) napi_unref_threadsafe_function(env, ed->tsfn);
  job_discard(job);
}

/* Queues job (with a promise for its result); on failure throws and frees it. */
static napi_value submit(napi_env env, struct job *job, napi_value keep) {
  struct env_data *ed = NULL;
  napi_get_instance_data(env, (void **)&ed);
  napi_value promise;
  if (!ed || napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    job_discard(job);
    return throw_internal(env, "napi_create_promise");
  }
  job->ed = ed;
  atomic_fetch_add(&ed->refs, 1);
  if (keep) napi_create_reference(env, keep, 1, &job->keep);
  job->base.done = job_done;
  char err[AK_ERR_LEN];
  if (ak_runner_submit(&job->base, err) != 0) {
    if (job->keep) napi_delete_reference(env, job->keep);
    job->keep = NULL;
    job_discard(job);
    return throw_code(env, "AK_UNAVAILABLE", err);
  }
  if (job->h) job->h->busy = 1;
  if (ed->in_flight++ == 0) napi_ref_threadsafe_function(env, ed->tsfn);
  return promise;
}

static void run_work(struct ak_job *j) {
  struct job *job = (struct job *)j;
  ak_vm_run(job->vm, job->deadline_ns, &job->exit);
}
static void snapshot_work(struct ak_job *j) {
  struct job *job = (struct job *)j;
  job->snap = ak_vm_snapshot(job->vm, job->err);
}
static void create_work(struct ak_job *j) {
  struct job *job = (struct job *)j;
  job->vm = ak_vm_create(job->snap, job->err);
  ak_snapshot_unref(job->snap);
  job->snap = NULL;
}

static struct job *new_job(napi_env env, enum job_type type, void (*work)(struct ak_job *)) {
  struct job *job = calloc(1, sizeof *job);
  if (!job) {
    throw_code(env, "AK_INTERNAL", "out of memory");
    return NULL;
  }
  job->type = type;
  job->base.work = work;
  return job;
}

/* A VM job holds a reference on the handle and keeps the external alive. */
static struct job *new_vm_job(napi_env env, struct vm_handle *h, enum job_type type, void (*work)(struct ak_job *)) {
  struct job *job = new_job(env, type, work);
  if (!job) return NULL;
  atomic_fetch_add(&h->refs, 1);
  job->h = h;
  job->vm = h->vm;
  return job;
}

/* ---------- exported functions ---------- */

static napi_value js_probe(napi_env env, napi_callback_info info) {
  (void)info;
  const struct ak_probe *p = ak_kvm_probe();
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_bool(env, o, "ok", p->ok);
  if (!p->ok) set_str(env, o, "reason", p->reason);
  set_num(env, o, "apiVersion", p->api_version);
  set_num(env, o, "syncRegs", p->sync_regs);
  set_bool(env, o, "immediateExit", p->immediate_exit > 0);
  set_num(env, o, "vcpuMmapSize", p->vcpu_mmap_size);
  set_num(env, o, "kickSignal", p->kick_signal);
  return o;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "vms", (double)atomic_load(&ak_stats.vms));
  set_num(env, o, "snapshots", (double)atomic_load(&ak_stats.snapshots));
  set_num(env, o, "runners", (double)atomic_load(&ak_stats.runners));
  set_num(env, o, "runnersIdle", (double)atomic_load(&ak_stats.runners_idle));
  set_num(env, o, "shells", (double)atomic_load(&ak_stats.shells));
  set_num(env, o, "resetsCopied", (double)atomic_load(&ak_stats.resets_copied));
  set_num(env, o, "resetsDropped", (double)atomic_load(&ak_stats.resets_dropped));
  set_num(env, o, "pagesRestored", (double)atomic_load(&ak_stats.pages_restored));
  set_num(env, o, "slotReloads", (double)atomic_load(&ak_stats.slot_reloads));
  return o;
}

static napi_value js_set_shell_cache(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  uint64_t n;
  if (get_u64(env, argv[0], &n) != 0 || n > AK_SHELL_CACHE_MAX)
    return throw_code(env, "AK_VALIDATION", "the shell cache size must be an integer from 0 to 256");
  ak_vm_set_shell_cache((int)n);
  return undefined(env);
}

static napi_value js_set_reset_copy_limit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  uint64_t n;
  if (get_u64(env, argv[0], &n) != 0 || n > AK_MEM_MAX)
    return throw_code(env, "AK_VALIDATION", "the reset copy limit must be an integer number of bytes from 0 to 1 GiB");
  ak_vm_set_reset_copy_limit(n);
  return undefined(env);
}

/* The struct layout as the C compiler sees it, so the TypeScript mirror can be checked against it. */
static napi_value js_abi_layout(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "version", AK_ABI_VERSION);
  set_num(env, o, "msgAddr", (double)AK_MSG_ADDR);
  set_num(env, o, "msgSize", (double)AK_MSG_SIZE);
  set_num(env, o, "imageBase", (double)AK_IMAGE_BASE);
  set_num(env, o, "stackSize", (double)AK_STACK_SIZE);
  set_num(env, o, "headerSize", (double)sizeof(struct ak_msg));
  set_num(env, o, "abi", (double)offsetof(struct ak_msg, abi));
  set_num(env, o, "op", (double)offsetof(struct ak_msg, op));
  set_num(env, o, "func", (double)offsetof(struct ak_msg, func));
  set_num(env, o, "nargs", (double)offsetof(struct ak_msg, nargs));
  set_num(env, o, "args", (double)offsetof(struct ak_msg, args));
  set_num(env, o, "results", (double)offsetof(struct ak_msg, results));
  set_num(env, o, "nresults", (double)offsetof(struct ak_msg, nresults));
  set_num(env, o, "status", (double)offsetof(struct ak_msg, status));
  set_num(env, o, "memBase", (double)offsetof(struct ak_msg, mem_base));
  set_num(env, o, "memSize", (double)offsetof(struct ak_msg, mem_size));
  set_num(env, o, "dataLen", (double)offsetof(struct ak_msg, data_len));
  set_num(env, o, "data", (double)offsetof(struct ak_msg, data));
  set_num(env, o, "memMin", (double)AK_MEM_MIN);
  set_num(env, o, "memMax", (double)AK_MEM_MAX);
  return o;
}

static napi_value js_snapshot_from_image(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  CHECK(get_args(env, info, 2, argv) == 0 ? napi_ok : napi_generic_failure);
  bool is_ta = false;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta) return throw_code(env, "AK_VALIDATION", "the guest image must be a Uint8Array");
  napi_typedarray_type tt;
  size_t len;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[0], &tt, &len, &data, NULL, NULL));
  if (tt != napi_uint8_array) return throw_code(env, "AK_VALIDATION", "the guest image must be a Uint8Array");
  uint64_t mem_size;
  if (get_u64(env, argv[1], &mem_size) != 0) return throw_code(env, "AK_VALIDATION", "memory size must be a non-negative integer");
  const struct ak_probe *p = ak_kvm_probe();
  if (!p->ok) return throw_code(env, "AK_UNAVAILABLE", p->reason);
  char err[AK_ERR_LEN];
  struct ak_snapshot *s = ak_snapshot_from_image(data, len, mem_size, err);
  if (!s) return throw_code(env, "AK_VALIDATION", err);
  return wrap_snapshot(env, s);
}

static struct snap_handle *get_snap(napi_env env, napi_value v) {
  struct snap_handle *s = get_handle(env, v, &SNAP_TAG);
  if (!s) {
    throw_code(env, "AK_VALIDATION", "not a snapshot handle");
    return NULL;
  }
  if (!s->snap) {
    throw_code(env, "AK_CONFLICT", "the snapshot has been disposed");
    return NULL;
  }
  return s;
}

static napi_value js_snapshot_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct snap_handle *s = get_snap(env, argv[0]);
  if (!s) return NULL;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "memSize", (double)s->snap->mem_size);
  set_num(env, o, "populated", (double)s->snap->populated);
  set_big(env, o, "rip", s->snap->cpu.regs.rip);
  set_big(env, o, "rsp", s->snap->cpu.regs.rsp);
  return o;
}

static napi_value js_snapshot_dispose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct snap_handle *s = get_handle(env, argv[0], &SNAP_TAG);
  if (!s) return throw_code(env, "AK_VALIDATION", "not a snapshot handle");
  ak_snapshot_unref(s->snap);   /* VMs made from it keep their own references */
  s->snap = NULL;
  return undefined(env);
}

static napi_value js_vm_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct snap_handle *s = get_snap(env, argv[0]);
  if (!s) return NULL;
  char err[AK_ERR_LEN];
  struct ak_vm *vm = ak_vm_create(s->snap, err);
  if (!vm) return throw_code(env, ak_kvm_probe()->ok ? "AK_INTERNAL" : "AK_UNAVAILABLE", err);
  return wrap_vm(env, vm);
}

static napi_value js_vm_create_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct snap_handle *s = get_snap(env, argv[0]);
  if (!s) return NULL;
  struct job *job = new_job(env, JOB_CREATE, create_work);
  if (!job) return NULL;
  ak_snapshot_ref(s->snap);
  job->snap = s->snap;
  return submit(env, job, NULL);
}

static napi_value js_vm_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  CHECK(get_args(env, info, 2, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  struct ak_vm *vm = idle_vm(env, h);
  if (!vm) return NULL;
  drop_view(env, h);   /* the guest owns its memory while it runs */
  uint64_t timeout_ms = 0;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_undefined && (get_u64(env, argv[1], &timeout_ms) != 0 || timeout_ms > 0x7fffffffull))
    return throw_code(env, "AK_VALIDATION", "timeout must be an integer number of milliseconds (0 = none, at most 2^31 - 1)");
  if (vm->stopped && !(vm->pending_mask & AK_PENDING_REGS))
    return throw_code(env, "AK_CONFLICT", "the VM stopped at a fault: reset() or enter() it before running it again");
  struct job *job = new_vm_job(env, h, JOB_RUN, run_work);
  if (!job) return NULL;
  job->deadline_ns = timeout_ms ? ak_now_ns() + timeout_ms * 1000000ull : 0;
  atomic_store(&vm->stop, AK_STOP_NONE);
  return submit(env, job, argv[0]);
}

static napi_value js_vm_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  int running = h->vm && h->busy;
  if (running) ak_vm_kick(h->vm, AK_STOP_CANCEL);
  napi_value r;
  napi_get_boolean(env, running, &r);
  return r;
}

static napi_value js_vm_reset(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  struct ak_vm *vm = idle_vm(env, h);
  if (!vm) return NULL;
  drop_view(env, h);
  char err[AK_ERR_LEN];
  if (ak_vm_reset(vm, err) != 0) return throw_code(env, "AK_INTERNAL", err);
  return undefined(env);
}

static napi_value js_vm_enter(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  CHECK(get_args(env, info, 3, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  struct ak_vm *vm = idle_vm(env, h);
  if (!vm) return NULL;
  uint64_t rip, rsp = vm->mem_size, args[4] = {0, 0, 0, 0};
  if (get_u64(env, argv[1], &rip) != 0 || rip >= vm->mem_size)
    return throw_code(env, "AK_VALIDATION", "the entry address must lie inside guest memory");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_object) {
    napi_value v;
    bool has = false;
    if (napi_has_named_property(env, argv[2], "rsp", &has) == napi_ok && has) {
      napi_get_named_property(env, argv[2], "rsp", &v);
      napi_typeof(env, v, &t);
      if (t != napi_undefined && (get_u64(env, v, &rsp) != 0 || rsp > vm->mem_size || rsp < AK_IMAGE_BASE))
        return throw_code(env, "AK_VALIDATION", "the stack pointer must lie inside guest memory");
    }
    if (napi_has_named_property(env, argv[2], "args", &has) == napi_ok && has) {
      napi_get_named_property(env, argv[2], "args", &v);
      napi_typeof(env, v, &t);
    }
    if (has && t != napi_undefined) {
      bool is_array = false;
      uint32_t n = 0;
      napi_is_array(env, v, &is_array);
      if (is_array) napi_get_array_length(env, v, &n);
      if (!is_array || n > 4) return throw_code(env, "AK_VALIDATION", "entry arguments must be an array of at most 4 integers");
      for (uint32_t i = 0; i < n; i++) {
        napi_value a;
        napi_get_element(env, v, i, &a);
        if (get_u64(env, a, &args[i]) != 0) return throw_code(env, "AK_VALIDATION", "entry arguments must be non-negative integers");
      }
    }
  }
  ak_vm_enter(vm, rip, rsp, args);
  return undefined(env);
}

static napi_value js_vm_snapshot(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  if (!idle_vm(env, h)) return NULL;
  struct job *job = new_vm_job(env, h, JOB_SNAPSHOT, snapshot_work);
  if (!job) return NULL;
  return submit(env, job, argv[0]);
}

/* Guest memory access: addr/len checked against the VM's size before any byte is touched. */
static struct ak_vm *guest_range(napi_env env, napi_value hv, napi_value av, uint64_t len, uint64_t *addr) {
  struct vm_handle *h = get_vm(env, hv);
  if (!h) return NULL;
  struct ak_vm *vm = idle_vm(env, h);
  if (!vm) return NULL;
  if (get_u64(env, av, addr) != 0) {
    throw_code(env, "AK_VALIDATION", "guest address must be a non-negative integer");
    return NULL;
  }
  if (ak_vm_range_ok(vm, *addr, len) != 0) {
    char msg[AK_ERR_LEN];
    snprintf(msg, sizeof msg, "guest range 0x%llx+%llu lies outside guest memory (%llu bytes)", (unsigned long long)*addr,
             (unsigned long long)len, (unsigned long long)vm->mem_size);
    throw_code(env, "AK_VALIDATION", msg);
    return NULL;
  }
  return vm;
}

static napi_value js_vm_read(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  CHECK(get_args(env, info, 3, argv) == 0 ? napi_ok : napi_generic_failure);
  uint64_t len, addr;
  if (get_u64(env, argv[2], &len) != 0 || len > 0x40000000ull) return throw_code(env, "AK_VALIDATION", "length must be an integer up to 1 GiB");
  struct ak_vm *vm = guest_range(env, argv[0], argv[1], len, &addr);
  if (!vm) return NULL;
  napi_value buf;
  CHECK(napi_create_buffer_copy(env, (size_t)len, vm->mem + addr, NULL, &buf));
  return buf;
}

/* vmView(vm, addr, len): an ArrayBuffer over guest memory itself, valid until vmUnview, run, reset or dispose
 * detaches it. One view per VM: a new one detaches the previous. */
static napi_value js_vm_view(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  CHECK(get_args(env, info, 3, argv) == 0 ? napi_ok : napi_generic_failure);
  uint64_t len, addr;
  if (get_u64(env, argv[2], &len) != 0 || len > 0x40000000ull) return throw_code(env, "AK_VALIDATION", "length must be an integer up to 1 GiB");
  struct ak_vm *vm = guest_range(env, argv[0], argv[1], len, &addr);
  if (!vm) return NULL;
  if (addr < AK_MSG_ADDR) return throw_code(env, "AK_VALIDATION", "views below the message area are not allowed");
  struct vm_handle *h = get_vm(env, argv[0]);
  drop_view(env, h);
  napi_value ab;
  if (len == 0) {
    void *unused;
    CHECK(napi_create_arraybuffer(env, 0, &unused, &ab));
    return ab;
  }
  CHECK(napi_create_external_arraybuffer(env, vm->mem + addr, (size_t)len, NULL, NULL, &ab));
  CHECK(napi_create_reference(env, ab, 0, &h->view));
  ak_vm_host_viewed(vm, addr, len);
  return ab;
}

static napi_value js_vm_unview(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  drop_view(env, h);
  return undefined(env);
}

static napi_value js_vm_write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  CHECK(get_args(env, info, 3, argv) == 0 ? napi_ok : napi_generic_failure);
  bool is_ta = false;
  napi_is_typedarray(env, argv[2], &is_ta);
  if (!is_ta) return throw_code(env, "AK_VALIDATION", "data must be a Uint8Array");
  napi_typedarray_type tt;
  size_t len;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[2], &tt, &len, &data, NULL, NULL));
  if (tt != napi_uint8_array) return throw_code(env, "AK_VALIDATION", "data must be a Uint8Array");
  uint64_t addr;
  struct ak_vm *vm = guest_range(env, argv[0], argv[1], len, &addr);
  if (!vm) return NULL;
  /* The host area (page tables, GDT, TSS) is the VM's own machinery, never payload. */
  if (addr < AK_MSG_ADDR) return throw_code(env, "AK_VALIDATION", "guest writes below the message area are not allowed");
  memcpy(vm->mem + addr, data, len);
  ak_vm_host_wrote(vm, addr, len);
  return undefined(env);
}

static napi_value js_vm_dispose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  if (!h->vm) {
    napi_deferred d;
    napi_value p;
    CHECK(napi_create_promise(env, &d, &p));
    napi_resolve_deferred(env, d, undefined(env));
    return p;
  }
  if (h->busy) return throw_code(env, "AK_CONFLICT", "the VM is busy: cancel the run and wait for it before disposing");
  drop_view(env, h);
  struct job *job = new_job(env, JOB_DISPOSE, dispose_work);
  if (!job) return NULL;
  job->vm = h->vm;
  h->vm = NULL;   /* from here on every call on the handle reports it disposed */
  return submit(env, job, NULL);
}

static napi_value js_vm_state(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv) == 0 ? napi_ok : napi_generic_failure);
  struct vm_handle *h = get_vm(env, argv[0]);
  if (!h) return NULL;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_bool(env, o, "disposed", h->vm == NULL);
  set_bool(env, o, "busy", h->busy);
  set_bool(env, o, "stopped", h->vm ? h->vm->stopped && !(h->vm->pending_mask & AK_PENDING_REGS) : 0);
  set_num(env, o, "memSize", h->vm ? (double)h->vm->mem_size : 0);
  return o;
}

/* ---------- module ---------- */

/* Runs before Node's own teardown of the thread-safe function (hooks run in reverse order of registration). */
static void env_cleanup(void *arg) {
  struct env_data *ed = arg;
  pthread_mutex_lock(&ed->lock);
  ed->closing = 1;
  pthread_mutex_unlock(&ed->lock);
  napi_release_threadsafe_function(ed->tsfn, napi_tsfn_abort);
}

static void env_data_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  env_data_unref(data);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

NAPI_MODULE_INIT() {
  struct env_data *ed = calloc(1, sizeof *ed);
  if (!ed) return NULL;
  pthread_mutex_init(&ed->lock, NULL);
  atomic_init(&ed->refs, 1);
  napi_value name;
  napi_create_string_utf8(env, "agentkernel-vmm", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, tsfn_finalize, NULL, call_js, &ed->tsfn) != napi_ok) {
    free(ed);
    return NULL;
  }
  napi_unref_threadsafe_function(env, ed->tsfn);
  napi_set_instance_data(env, ed, env_data_finalize, NULL);
  napi_add_env_cleanup_hook(env, env_cleanup, ed);

  napi_property_descriptor props[] = {
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"setShellCache", NULL, js_set_shell_cache, NULL, NULL, NULL, napi_default, NULL},
      {"setResetCopyLimit", NULL, js_set_reset_copy_limit, NULL, NULL, NULL, napi_default, NULL},
      {"abiLayout", NULL, js_abi_layout, NULL, NULL, NULL, napi_default, NULL},
      {"snapshotFromImage", NULL, js_snapshot_from_image, NULL, NULL, NULL, napi_default, NULL},
      {"snapshotInfo", NULL, js_snapshot_info, NULL, NULL, NULL, napi_default, NULL},
      {"snapshotDispose", NULL, js_snapshot_dispose, NULL, NULL, NULL, napi_default, NULL},
      {"vmCreate", NULL, js_vm_create, NULL, NULL, NULL, napi_default, NULL},
      {"vmCreateAsync", NULL, js_vm_create_async, NULL, NULL, NULL, napi_default, NULL},
      {"vmRun", NULL, js_vm_run, NULL, NULL, NULL, napi_default, NULL},
      {"vmCancel", NULL, js_vm_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"vmReset", NULL, js_vm_reset, NULL, NULL, NULL, napi_default, NULL},
      {"vmEnter", NULL, js_vm_enter, NULL, NULL, NULL, napi_default, NULL},
      {"vmSnapshot", NULL, js_vm_snapshot, NULL, NULL, NULL, napi_default, NULL},
      {"vmRead", NULL, js_vm_read, NULL, NULL, NULL, napi_default, NULL},
      {"vmWrite", NULL, js_vm_write, NULL, NULL, NULL, napi_default, NULL},
      {"vmView", NULL, js_vm_view, NULL, NULL, NULL, napi_default, NULL},
      {"vmUnview", NULL, js_vm_unview, NULL, NULL, NULL, napi_default, NULL},
      {"vmDispose", NULL, js_vm_dispose, NULL, NULL, NULL, napi_default, NULL},
      {"vmState", NULL, js_vm_state, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
