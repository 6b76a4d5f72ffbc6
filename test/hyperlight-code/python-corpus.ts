/**
 * Python snippets run on both Wasm-capable backends (`wasm`: Pyodide; `hyperlight`: CPython 3.11 in the micro-VM),
 * whose results must be identical: printing, exceptions with tracebacks, standard-library imports, sys.exit,
 * env/argv/stdin, infinite loops, memory bombs, huge output and attempts to reach host files. `expect` pins what
 * the result must be on both. Snippets avoid what differs between the two CPython versions by design
 * (sys.version, wording that changed between releases).
 */
import type { Snippet } from './corpus.js';

export const PYTHON_CORPUS: Snippet[] = [
  { name: 'a bare expression prints nothing', code: '1+1', expect: { exitCode: 0, stdout: '', stderr: '' } },
  {
    name: 'print to stdout and stderr, in order, with unicode',
    code: `import sys\nprint('n=%d s=%s' % (42, 'x'), [1, 'two', {'b': None}], (1,), {1, 2} == {2, 1})\nprint('to stderr', file=sys.stderr)\nprint('héllo ✓ 日本')`,
    expect: { exitCode: 0, stdout: "n=42 s=x [1, 'two', {'b': None}] (1,) True\nhéllo ✓ 日本\n", stderr: 'to stderr\n' },
  },
  {
    name: 'an uncaught exception with its traceback',
    code: `def inner():\n    raise TypeError('bad value')\ndef outer():\n    inner()\nprint('before')\nouter()`,
    expect: {
      exitCode: 1,
      stdout: 'before\n',
      stderr: 'Traceback (most recent call last):\n  File "<string>", line 6, in <module>\n  File "<string>", line 4, in outer\n  File "<string>", line 2, in inner\nTypeError: bad value\n',
      error: 'TypeError',
    },
  },
  { name: 'a syntax error', code: 'x = = 1', expect: { exitCode: 1, stderr: /SyntaxError: invalid syntax\n$/, error: 'SyntaxError' } },
  { name: 'division by zero', code: '1/0', expect: { exitCode: 1, stderr: /\nZeroDivisionError: division by zero\n$/, error: 'ZeroDivisionError' } },
  {
    name: 'the standard library: json, re, math, datetime, collections, itertools, functools, fractions, decimal',
    code: `import json, re, math, datetime, collections, itertools, functools, fractions, decimal, statistics, textwrap, heapq, bisect, string
print(json.dumps({'a': [1, 2.5, None, True]}, sort_keys=True), re.sub(r'(\\d+)', r'<\\1>', 'a1b22'), math.factorial(20))
print(datetime.date(2024, 2, 29) + datetime.timedelta(days=1), collections.Counter('abracadabra').most_common(2))
print(list(itertools.combinations('abc', 2)), functools.reduce(lambda a, b: a * b, range(1, 6)), fractions.Fraction(3, 12))
print(decimal.Decimal('1.1') + decimal.Decimal('2.2'), statistics.median([3, 1, 2]), heapq.nsmallest(2, [5, 1, 4]), bisect.bisect([1, 3, 5], 4))
print(textwrap.shorten('the quick brown fox jumps', 15), string.ascii_lowercase[:5], 2 ** 100)`,
    expect: {
      exitCode: 0,
      stdout: `{"a": [1, 2.5, null, true]} a<1>b<22> 2432902008176640000
2024-03-01 [('a', 5), ('b', 2)]
[('a', 'b'), ('a', 'c'), ('b', 'c')] 120 1/4
3.3 2 [1, 4] 2
the quick [...] abcde 1267650600228229401496703205376
`,
    },
  },
  {
    name: 'classes, generators, comprehensions and f-strings',
    code: `from dataclasses import dataclass
@dataclass
class P:
    x: int
    y: int = 2
def gen(n):
    yield from range(n)
print(P(1), [i * i for i in gen(5) if i % 2], {k: v for k, v in zip('ab', (1, 2))}, f"{3.14159:.2f}|{'x':>3}|")`,
    expect: { exitCode: 0, stdout: "P(x=1, y=2) [1, 9] {'a': 1, 'b': 2} 3.14|  x|\n" },
  },
  { name: 'sys.exit with a code', code: `print('a')\nimport sys\nsys.exit(7)\nprint('b')`, expect: { exitCode: 7, stdout: 'a\n' } },
  { name: 'sys.exit with a message', code: `import sys\nsys.exit('bye')`, expect: { exitCode: 1, stderr: 'bye\n' } },
  { name: 'SystemExit cannot be swallowed by the runner', code: `raise SystemExit(0)`, expect: { exitCode: 0, stdout: '' } },
  {
    name: 'env, argv, cwd and stdin',
    code: `import os, sys\nprint(os.environ.get('GREETING'), sys.argv, os.getcwd())\nprint('stdin:', repr(sys.stdin.read()))`,
    opts: { env: { GREETING: 'hello' }, stdin: 'line one\nline two\n' },
    expect: { exitCode: 0, stdout: "hello ['-c'] /\nstdin: 'line one\\nline two\\n'\n" },
  },
  {
    // refused as not found (Pyodide's own filesystem) or as not permitted (a path leaving a preopen under WASI)
    name: 'host files are out of reach',
    code: `import os
for p in ('/etc/passwd', '/etc/shadow', '/proc/self/environ', '../../etc/passwd', '/usr/local/../../etc/hostname'):
    try:
        open(p).read()
        print('read', p)
    except (FileNotFoundError, PermissionError):
        print('refused', p)`,
    expect: { exitCode: 0, stdout: 'refused /etc/passwd\nrefused /etc/shadow\nrefused /proc/self/environ\nrefused ../../etc/passwd\nrefused /usr/local/../../etc/hostname\n' },
  },
  {
    name: 'no subprocesses',
    code: `import subprocess
try:
    subprocess.run(['ls'])
    print('ran')
except OSError as e:
    print('refused')`,
    expect: { exitCode: 0, stdout: 'refused\n' },
  },
  {
    name: 'an infinite loop stops at the deadline, keeping what it printed',
    code: `print('started', flush=True)\nwhile True:\n    pass`,
    opts: { timeoutMs: 2000 },
    expect: { exitCode: 124, stdout: 'started\n', stderr: 'timeout: the run was stopped at its deadline\n' },
  },
  {
    name: 'a memory bomb hits the memory limit',
    code: `keep = []\nwhile True:\n    keep.append(bytearray(1 << 20))`,
    opts: { memoryMb: 96 },
    expect: { exitCode: 137, trap: 'memory_limit', stderr: /MemoryError\n(.|\n)*memory limit of 96 MiB reached\n$/ },
  },
  {
    name: 'one huge allocation is refused with MemoryError, caught by the program',
    code: `try:\n    b = bytearray(1024 ** 3)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')`,
    opts: { memoryMb: 96 },
    expect: { exitCode: 0, stdout: 'MemoryError\n' },
  },
  {
    name: 'huge output is cut at the output limit',
    code: `import sys\nfor i in range(100000):\n    print('line', i, 'y' * 40)\nprint('end', file=sys.stderr)`,
    opts: { outputBytes: 200000 },
    expect: { exitCode: 0, stdout: /^line 0 y+\nline 1 /, stderr: 'end\n', stdoutTruncated: true },
  },
  {
    name: 'deep recursion is a catchable RecursionError',
    code: `def f(n):\n    return f(n + 1) + 1\ntry:\n    f(0)\nexcept RecursionError as e:\n    print('RecursionError')`,
    expect: { exitCode: 0, stdout: 'RecursionError\n' },
  },
  {
    name: 'an exception raised from a handler keeps its context',
    code: `try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('wrapped') from e`,
    expect: { exitCode: 1, stderr: /KeyError: 'k'\n\nThe above exception was the direct cause of the following exception:\n\n(.|\n)*ValueError: wrapped\n$/, error: 'ValueError' },
  },
];
