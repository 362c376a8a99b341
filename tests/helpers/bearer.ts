/**
 * The HTTP faces' bearer token as a user computes it, with `openssl kdf`
 * (OpenSSL 3) and `openssl base64`, independently of `io/bearer.ts`: the
 * command `docs/HTTP.md` gives, run as a shell pipeline.
 *
 * @module
 */

/** The command line of `docs/HTTP.md`, with the secret read from `P2P_SECRET`. */
export const OPENSSL_BEARER_COMMAND =
  `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "pass:$P2P_SECRET" -kdfopt "salt:p2p http bearer v1" ` +
  `-kdfopt iter:100000 -binary PBKDF2 | openssl base64 -A | tr '+/' '-_' | tr -d '='`;

/** The bearer token of `secret`, computed by `openssl` in `sh` (the secret in the environment, not in the script). */
export async function opensslBearer(secret: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", OPENSSL_BEARER_COMMAND],
    env: { P2P_SECRET: secret },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) throw new Error(`openssl kdf failed (exit ${code}): ${text.decode(stderr)}`);
  return text.decode(stdout).trim();
}
