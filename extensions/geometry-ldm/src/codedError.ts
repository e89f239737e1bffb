/**
 * The one base of every typed error of the extension. Each layer declares its own code union
 * (GeometryErrorCode, DicomErrorCode, ...) and a subclass that fixes its `name`; callers decide
 * on `name` + `code` (never on message text), which also survive the worker boundary
 * (worker/protocol.ts). The exit codes of the CLI (cli/exitCodes.ts) and the panels' notices
 * (panels/panelErrors.ts) map every code of every union, checked by the compiler.
 */
export abstract class CodedError<C extends string> extends Error {
  readonly code: C;
  readonly details: Record<string, unknown>;

  protected constructor(name: string, code: C, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = name;
    this.code = code;
    this.details = details;
  }
}

/** For a `switch` over a code union: compiles only when every code has a case. */
export function unhandledCode(code: never): never {
  throw new Error(`unhandled error code ${String(code)}`);
}
