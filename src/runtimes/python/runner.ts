/**
 * The Python side of a run, installed once into the interpreter before its clean-state copy is taken, so each
 * run only calls it. Everything crosses the boundary as strings (JSON), never as JavaScript objects: a JsProxy
 * held by Python would outlive the memory reset as a dangling reference on the JavaScript side.
 */

/** Name of the module that holds the runner inside the interpreter. */
export const RUNNER_MODULE = '_agentkernel_runner';

/** What `run()` returns (as JSON). */
export interface RunnerResult {
  exit: number;
  error?: { name: string; message: string; traceback: string };
  /** the uncaught exception was a MemoryError */
  memoryError?: boolean;
}

export const RUNNER_SOURCE = String.raw`
import sys, os, types, builtins, atexit
# bound now: the guest may replace module attributes (json.dumps = None) without breaking its own report
from json import dumps as _dumps, loads as _loads
from traceback import format_exception as _format_exception
_ModuleType = types.ModuleType

def _exit_status(code):
    # what CPython's own exit does with SystemExit's argument
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1

def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass

# a session's host function (set by the session's setup): (name, args_json) -> answer_json
_host = None
# a session's __main__, kept from call to call
_kept = None

class ToolError(Exception):
    pass

def _call_tool(name, kwargs):
    if _host is None:
        raise ToolError("no tools are available here")
    answer = _loads(_host(name, _dumps(kwargs)))
    if not answer["ok"]:
        raise ToolError(answer["error"])
    return _loads(answer["json"])

class _Tools:
    """The host's tools registered for this session: tools.NAME(**kwargs)."""
    __slots__ = ("_names",)
    def __init__(self, names):
        object.__setattr__(self, "_names", frozenset(names))
    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(f"no tool named {name!r} is registered")
        def call(**kwargs):
            return _call_tool(name, kwargs)
        call.__name__ = name
        return call
    def __setattr__(self, name, value):
        raise AttributeError("tools are read-only")
    def __dir__(self):
        return sorted(self._names)

def run(code, filename, argv_json, env_json, cwd, keep=False, tools_json="[]"):
    global _kept
    if not keep:
        # modules imported before the clean-state copy carry the seed they were given then: reseed per run
        rnd = sys.modules.get("random")
        if rnd is not None:
            rnd.seed()
        tmp = sys.modules.get("tempfile")
        if tmp is not None:
            tmp._name_sequence = None
    sys.argv = _loads(argv_json)
    os.environ.clear()
    os.environ.update(_loads(env_json))
    os.chdir(cwd)
    main = _kept if keep else None
    if main is None:
        main = _ModuleType("__main__")
        main.__builtins__ = builtins
        if keep:
            _kept = main
    if filename[:1] != "<":
        main.__file__ = filename
    if keep:
        main.__dict__["tools"] = _Tools(_loads(tools_json))
        main.__dict__["ToolError"] = ToolError
    sys.modules["__main__"] = main
    # like CPython: a script's own directory comes first on the import path, '' (the cwd) for -c and stdin
    first = os.path.dirname(os.path.abspath(filename)) if filename[:1] != "<" else ""
    if not (keep and sys.path[:1] == [first]):
        sys.path.insert(0, first)
    result = {"exit": 0}
    try:
        exec(compile(code, filename, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as e:
        result["exit"] = _exit_status(e.code)
    except BaseException as e:
        tb = e.__traceback__
        # the traceback starts at the guest's code, not at this function
        if tb is not None and tb.tb_frame.f_code is run.__code__:
            tb = tb.tb_next
        result["exit"] = 1
        result["error"] = {
            "name": type(e).__name__,
            "message": str(e),
            "traceback": "".join(_format_exception(type(e), e, tb)),
        }
        if isinstance(e, MemoryError):
            result["memoryError"] = True
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    _flush()
    return _dumps(result)
`;

/** Standard-library modules imported before the clean-state copy, so that importing them in a run costs nothing. */
export const PRELOADED_MODULES = ['json', 're', 'math', 'datetime', 'collections', 'itertools', 'functools', 'random', 'string'];

/**
 * Python that installs the runner module into a fresh interpreter and prepares it for runs (line-buffered output,
 * no bytecode files, the preloaded modules): the same for every interpreter that runs Python code.
 */
export const RUNNER_SETUP = [
  'import sys, types',
  `_m = types.ModuleType(${JSON.stringify(RUNNER_MODULE)})`,
  `exec(${JSON.stringify(RUNNER_SOURCE)}, _m.__dict__)`,
  `sys.modules[${JSON.stringify(RUNNER_MODULE)}] = _m`,
  'del _m',
  // output reaches the caller line by line, as it is produced
  'sys.stdout.reconfigure(line_buffering=True)',
  'sys.dont_write_bytecode = True',
  ...PRELOADED_MODULES.map((name) => `import ${name}`),
].join('\n');
