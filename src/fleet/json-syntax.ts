// Where a JSON text first goes wrong, and what was expected there. JSON.parse's messages give
// no position for several faults ("Unexpected token 'h', ... is not valid JSON"), so a file an
// operator wrote by hand is scanned once more to name the line and column. Pure.

export interface JsonSyntaxFault {
  /** 1-based line and column of the fault. */
  line: number;
  column: number;
  message: string;
}

/** Most nesting scanned: deeper is refused as a fault rather than overflowing the stack. */
const MAX_DEPTH = 256;

class Fault extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** The first syntax fault of `text`, or null when it is valid JSON. */
export function jsonSyntaxFault(text: string): JsonSyntaxFault | null {
  let i = 0;
  const at = () => (i < text.length ? `"${text[i]}"` : 'the end of the file');
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };
  const fail = (expected: string): never => { throw new Fault(i, `expected ${expected}, found ${at()}`); };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail('a value (object, list, string, number, true, false or null)');
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) { i++; return; }
      if (c < 0x20) throw new Fault(i, 'a string must not hold a line break or control character (write \\n)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Fault(i, 'a string holds an unknown escape (a backslash must be written \\\\)');
      } else i++;
    }
    throw new Fault(i, 'a string is not closed (missing ")');
  };
  const number = () => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) fail('a value (object, list, string, number, true, false or null)');
    i += match![0].length;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new Fault(i, `nested deeper than ${MAX_DEPTH}`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a field name in double quotes');
        string();
        ws();
        if (text[i] !== ':') fail('":" after the field name');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail('"," or "}"');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail('"," or "]"');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail('a value (object, list, string, number, true, false or null)');
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('the end of the file after the value');
    return null;
  } catch (err) {
    if (!(err instanceof Fault)) throw err;
    return { ...lineColumn(text, err.offset), message: err.message };
  }
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; start = i + 1; }
  return { line, column: offset - start + 1 };
}
