/*
 * The CPython guest's driver: compiled to wasm32-wasi with CPython's own build (libpython3.11.a) into one WASI
 * reactor, which the wasm2c pipeline turns into a micro-VM guest like any other module. The host invokes its
 * exports (src/backends/hyperlight/code/python.ts):
 *
 *   ak_py_init(setup_len)  initialise the interpreter, run the setup source the host wrote into the input buffer
 *                          (the `wasm` backend's runner module and preloaded modules), keep the runner's `run`
 *   ak_py_input(len)       a buffer in linear memory for the next call's input (the small one made at init, or a
 *                          new one): the host writes there directly
 *   ak_py_run(...)         one run: the runner's run(code, filename, argv_json, env_json, cwd, keep, tools_json),
 *                          its JSON result; `keep` (sessions) keeps __main__ from run to run
 *   ak_py_grow(pages)      grow linear memory to at least `pages` (before the host writes a session image back)
 *   ak_py_refused()        whether the last run asked for memory past the limit (a MemoryError at the cap, which
 *                          the `wasm` backend reports as exit 137, not one Python raised for its own reasons)
 *
 * A session's tool calls leave through two imports of module "agentkernel" (host calls): tool_call asks and
 * returns the answer's length, writing it into the guest's buffer when it fits; tool_result fetches a longer one.
 *
 * Init is followed by a VM snapshot, so every run starts from an initialised interpreter with its modules
 * imported. Results leave as (length << 32 | pointer) of a UTF-8 buffer in linear memory; 0 means no result.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <wasi/libc.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* The guest's fds of preopened directories: those known at init (the root and the standard library) are found
 * by wasi-libc itself; a run's own mounts follow them and are registered per run. */
#define INPUT_SMALL (64 * 1024)

__attribute__((import_module("agentkernel"), import_name("tool_call"))) extern uint32_t
ak_tool_call(const char *name, uint32_t name_len, const char *args, uint32_t args_len, char *buf, uint32_t cap);
__attribute__((import_module("agentkernel"), import_name("tool_result"))) extern uint32_t ak_tool_result(char *buf, uint32_t len);

static char *input;
static int refused;

/*
 * The C library's break, as wasi-libc's own sbrk, but noting a refused growth: linear memory stops growing at the
 * run's memory limit (the VM is sized for it), and a refusal is how the limit shows.
 */
void *sbrk(intptr_t increment) {
  const uintptr_t page = 65536;
  if (increment == 0) return (void *)(__builtin_wasm_memory_size(0) * page);
  if (increment < 0 || (uintptr_t)increment % page != 0) {
    errno = EINVAL;
    return (void *)-1;
  }
  size_t old = __builtin_wasm_memory_grow(0, (uintptr_t)increment / page);
  if (old == (size_t)-1) {
    refused = 1;
    errno = ENOMEM;
    return (void *)-1;
  }
  return (void *)(old * page);
}

EXPORT("ak_py_refused") uint32_t ak_py_refused(void) {
  return (uint32_t)refused;
}
static size_t input_cap;
static PyObject *run_fn;
static char *result;

EXPORT("ak_py_input") uint32_t ak_py_input(uint32_t len) {
  if (len <= input_cap) return (uint32_t)(uintptr_t)input;
  char *p = malloc(len);
  if (!p) return 0;
  /* the old buffer may be the snapshot's: freeing it is fine, the next reset brings it back */
  free(input);
  input = p;
  input_cap = len;
  return (uint32_t)(uintptr_t)input;
}

static uint64_t give(const char *text, size_t len) {
  free(result);
  result = malloc(len + 1);
  if (!result) return 0;
  memcpy(result, text, len);
  result[len] = 0;
  return ((uint64_t)len << 32) | (uint32_t)(uintptr_t)result;
}

/* A Python exception that escaped the driver itself, as text (the runner catches the guest's own). */
static uint64_t give_exception(void) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject *s = value ? PyObject_Str(value) : NULL;
  const char *name = type ? ((PyTypeObject *)type)->tp_name : "Error";
  const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "!%s: %s", name, msg ? msg : "");
  Py_XDECREF(s);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return give(buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
}

/* _agentkernel_host.call(name, args_json) -> answer_json: the runner's bridge to the session's tools. */
static PyObject *host_call(PyObject *self, PyObject *args) {
  const char *name, *json;
  Py_ssize_t name_len, json_len;
  if (!PyArg_ParseTuple(args, "s#s#", &name, &name_len, &json, &json_len)) return NULL;
  char small[4096];
  uint32_t n = ak_tool_call(name, (uint32_t)name_len, json, (uint32_t)json_len, small, sizeof small);
  if (n <= sizeof small) return PyUnicode_DecodeUTF8(small, n, "strict");
  char *big = malloc(n);
  if (!big) return PyErr_NoMemory();
  uint32_t got = ak_tool_result(big, n);
  PyObject *r = got == n ? PyUnicode_DecodeUTF8(big, n, "strict") : NULL;
  if (got != n) PyErr_SetString(PyExc_RuntimeError, "the tool's answer was lost");
  free(big);
  return r;
}

static PyMethodDef host_methods[] = {
  {"call", host_call, METH_VARARGS, "Call a tool of the session's host: (name, args_json) -> answer_json."},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef host_module = {PyModuleDef_HEAD_INIT, "_agentkernel_host", NULL, -1, host_methods};

static PyObject *host_module_init(void) {
  return PyModule_Create(&host_module);
}

static int configure(void) {
  PyStatus status;
  PyPreConfig pre;
  PyPreConfig_InitIsolatedConfig(&pre);
  pre.utf8_mode = 1;
  status = Py_PreInitialize(&pre);
  if (PyStatus_Exception(status)) return 1;
  if (PyImport_AppendInittab("_agentkernel_host", host_module_init) != 0) return 3;

  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.site_import = 0;
  config.write_bytecode = 0;
  config.install_signal_handlers = 0;
  config.pathconfig_warnings = 0;
  config.module_search_paths_set = 1;
  status = PyConfig_SetString(&config, &config.program_name, L"python3");
  if (!PyStatus_Exception(status)) status = PyConfig_SetString(&config, &config.home, L"/usr/local");
  if (!PyStatus_Exception(status)) {
    status = PyWideStringList_Append(&config.module_search_paths, L"/usr/local/lib/python3.11");
  }
  if (!PyStatus_Exception(status)) {
    status = PyWideStringList_Append(&config.module_search_paths, L"/usr/local/lib/python3.11/lib-dynload");
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  return PyStatus_Exception(status) ? 2 : 0;
}

/* Returns 0, or the step that failed (its Python error, if any, as the result text: see ak_py_result). */
static uint64_t init_error;

EXPORT("ak_py_init") uint32_t ak_py_init(uint32_t setup_len) {
  if (!input || setup_len > input_cap) return 1;
  int step = configure();
  if (step) return 10 + step;
  /* the setup source defines the runner module; `run` is its entry point */
  PyObject *globals = PyDict_New();
  if (!globals) return 20;
  PyObject *code = Py_CompileStringExFlags(input, "<agentkernel setup>", Py_file_input, NULL, -1);
  PyObject *r = code ? PyEval_EvalCode(code, globals, globals) : NULL;
  Py_XDECREF(code);
  if (!r) {
    init_error = give_exception();
    Py_DECREF(globals);
    return 21;
  }
  Py_DECREF(r);
  run_fn = PyDict_GetItemString(globals, "run");
  Py_XINCREF(run_fn);
  Py_DECREF(globals);
  if (!run_fn || !PyCallable_Check(run_fn)) return 22;
  /* the input buffer of later runs is part of the snapshot */
  ak_py_input(INPUT_SMALL);
  return 0;
}

EXPORT("ak_py_init_error") uint64_t ak_py_init_error(void) {
  return init_error;
}

EXPORT("ak_py_grow") uint32_t ak_py_grow(uint32_t pages) {
  size_t have = __builtin_wasm_memory_size(0);
  if (pages > have && __builtin_wasm_memory_grow(0, pages - have) == (size_t)-1) return 0;
  return (uint32_t)__builtin_wasm_memory_size(0);
}

/*
 * One run. The input buffer holds, back to back: code, filename, argv JSON, env JSON, cwd, the guest paths of the
 * run's own mounts separated by '\n' (preopened by the host at fds first_fd, first_fd + 1, ...), tools JSON.
 */
EXPORT("ak_py_run") uint64_t ak_py_run(uint32_t code_len, uint32_t filename_len, uint32_t argv_len, uint32_t env_len,
                                       uint32_t cwd_len, uint32_t mounts_len, uint32_t tools_len, uint32_t first_fd,
                                       uint32_t keep) {
  uint64_t total = (uint64_t)code_len + filename_len + argv_len + env_len + cwd_len + mounts_len + tools_len;
  if (!run_fn || total > input_cap) return 0;
  refused = 0;
  const char *p = input;
  const char *code = p;
  p += code_len;
  const char *filename = p;
  p += filename_len;
  const char *argv = p;
  p += argv_len;
  const char *env = p;
  p += env_len;
  const char *cwd = p;
  p += cwd_len;
  const char *tools = p + mounts_len;
  /* register the run's mounts; the reset after the run forgets them */
  const char *m = p, *end = p + mounts_len;
  int fd = (int)first_fd;
  while (m < end) {
    const char *nl = memchr(m, '\n', (size_t)(end - m));
    size_t len = nl ? (size_t)(nl - m) : (size_t)(end - m);
    char *path = strndup(m, len);
    if (!path || __wasilibc_register_preopened_fd(fd++, path) != 0) return 0;
    m += len + 1;
  }
  PyObject *r = PyObject_CallFunction(run_fn, "s#s#s#s#s#Os#", code, (Py_ssize_t)code_len, filename,
                                      (Py_ssize_t)filename_len, argv, (Py_ssize_t)argv_len, env, (Py_ssize_t)env_len,
                                      cwd, (Py_ssize_t)cwd_len, keep ? Py_True : Py_False, tools,
                                      (Py_ssize_t)tools_len);
  if (!r) return give_exception();
  Py_ssize_t n;
  const char *text = PyUnicode_AsUTF8AndSize(r, &n);
  uint64_t out = text ? give(text, (size_t)n) : give_exception();
  Py_DECREF(r);
  return out;
}
