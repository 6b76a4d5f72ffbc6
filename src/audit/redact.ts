/**
 * Keeps secrets out of the audit log. Commands are recorded because an auditor needs them, but agents routinely
 * pass credentials on command lines (`curl -H "Authorization: Bearer ..."`, `--password=...`, `TOKEN=... cmd`).
 * Values that look like credentials, and the argument after a flag that names one, become `[REDACTED]`.
 */
export const REDACTED = '[REDACTED]';

/** Flag or variable names whose value is a secret. */
const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth(orization)?|session[-_]?id|cookie)$/i;

/** Well-known credential shapes, matched anywhere in an argument, and what replaces them. */
const SECRET_VALUE: [RegExp, string][] = [
  [/\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, REDACTED], // Authorization header values
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED], // AWS access key id
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, REDACTED], // GitHub tokens
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g, REDACTED], // Slack tokens
  [/\bsk-[A-Za-z0-9_-]{16,}\b/g, REDACTED], // API keys of several providers
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, REDACTED], // JWT
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/(\/\/[^/\s:@]+:)[^@\s/]+@/g, `$1${REDACTED}@`], // user:password@ in URLs (the user stays)
];

function scrub(arg: string): string {
  return SECRET_VALUE.reduce((s, [re, by]) => s.replace(re, by), arg);
}

/** Redact one argv. `--password=x`, `PASSWORD=x`, `--token x` and `-H 'Authorization: Bearer x'` lose their value. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let hideNext = false;
  for (const arg of argv) {
    if (hideNext) {
      out.push(REDACTED);
      hideNext = false;
      continue;
    }
    const assign = /^(-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(arg);
    if (assign && SECRET_NAME.test(assign[1]!.replace(/^-+/, ''))) {
      out.push(`${assign[1]}=${REDACTED}`);
      continue;
    }
    const header = /^([A-Za-z-]*(authorization|token|api-key|cookie)[A-Za-z-]*\s*:\s*)(.+)$/is.exec(arg);
    if (header) {
      out.push(`${header[1]}${REDACTED}`);
      continue;
    }
    if (/^--?[A-Za-z][A-Za-z0-9_-]*$/.test(arg) && SECRET_NAME.test(arg.replace(/^-+/, ''))) hideNext = true;
    out.push(scrub(arg));
  }
  return out;
}
