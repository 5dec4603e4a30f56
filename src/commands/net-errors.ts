// Network failures in words that say what to do, instead of Node's codes (ECONNREFUSED,
// HPE_INVALID_CONSTANT). Pure: a message in, a message out; unknown messages pass unchanged.

const EXPLAINED: [RegExp, string][] = [
  [/(connect )?ECONNREFUSED( [\d.:\[\]a-f]+)?/i, 'nothing is listening there (is the miner running, and is this its --port?)'],
  [/HPE_INVALID_CONSTANT|Parse Error: Expected HTTP\/(, RTSP\/ or ICE\/)?|Parse Error[^,;]*|HPE_[A-Z_]+/, 'what answers there is not a miner\'s axon (an SSH port? give the miner\'s --port)'],
  [/(getaddrinfo )?(ENOTFOUND|EAI_AGAIN)( \S+)?/, 'no such host (check the name)'],
  [/(connect )?(ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)( [\d.:]+)?/, 'the host does not answer (a firewall, or the wrong address?)'],
  [/(read )?ECONNRESET/, 'the other side closed the connection (is this a miner\'s axon port?)'],
  [/\bbad port\b/, 'this port is one that HTTP clients refuse to use (the miner must listen on another --port)'],
  [/Unexpected server response: (\d+)/, 'the server there is not a miner\'s axon (HTTP $1 to the WebSocket upgrade)'],
];

export function explainNetworkError(message: string): string {
  let out = message;
  for (const [pattern, words] of EXPLAINED) out = out.replace(pattern, words);
  return out;
}
