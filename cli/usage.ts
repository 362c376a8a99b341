/**
 * What `--help` prints: the usage of the command line and of each role,
 * and the commands of a peer's prompt.
 *
 * @module
 */

const COMMON = `  --secret S          deal only with parties that know the secret S (or set
                      P2P_SECRET instead, which no process listing shows);
                      peer traffic is then encrypted (default: open)
  --help              this text`;
const NET = `  --tracker HOST:PORT the tracker (default 127.0.0.1:4444)
  --timeout SECONDS   connect and idle timeout of each try (default 10)
  --sources N         most holders one file is fetched from at once (default 4)`;
const DOWNLOADS = `  --max-download-rate R  all downloads together receive at most R bytes
                      per second (suffix K, M or G; default: no limit)
  --wait-timeout S    how long --wait (or SEND --wait) waits (default 300)
  --json              print one JSON object per file (docs/JSON.md)`;

/** The commands of a peer's prompt, as `HELP` lists them. */
export const PEER_COMMANDS = `  SEND name[, name...]   download files (write a comma inside a name as %2C)
  SEND --wait name[, ...] the same, waiting for files nobody has yet
  PEERS [--page N]       list the active peers
  LIST [--page N] [text] list indexed files whose names contain text
  STATS                  the tracker's counters
  HELP                   this list
  QUIT                   leave the tracker and stop`;

/** Each role's usage text (`main` for the command line as a whole), printed by `--help` and after a usage error. */
export const USAGE: Record<string, string> = {
  main: `p2p: peer-to-peer file transfer with a central tracker

usage: main.ts <role> [flags]   (deno task <role> [flags])

roles:
  tracker   run the tracker (default 0.0.0.0:4444)
  peer      share a folder, serve it (default 0.0.0.0:5555), download at a
            prompt
  get       download files once and exit: 0 all arrived, 1 some failed, 2 usage
  cat       relay mode: print a file from the first active peer that has it
  demo      a tracker and three peers on loopback, moving files while you watch

'main.ts <role> --help' tells more.`,
  tracker: `usage: tracker [--host HOST] [--port PORT] [--demote-after N]

  --host HOST         address to listen on (default 0.0.0.0)
  --port PORT         port to listen on, 0 for any free one (default 4444)
  --demote-after N    stop offering a holder once N downloaders reported it
                      failing (and more failed than succeeded; default 2)
  --idle-timeout S    close a session that sends no whole line for S seconds;
                      its files leave the index (default 120; peers PING)
  --max-connections N refuse connections beyond N with 421 (default 20000)
  --max-per-address N the same, per remote address; 0: no limit (default 0)
  --stats-every S     log a stats line every S seconds; 0: never (default 60)
${COMMON}

Prints 'listening on HOST:PORT', then one line per peer event. SIGINT or
SIGTERM stops it.`,
  peer: `usage: peer [--dir DIR] [--out DIR] [--host HOST] [--port PORT]
            [--tracker HOST:PORT] [flags]

  --dir DIR           the shared folder (default ./files)
  --out DIR           where downloads land (default: the shared folder,
                      and they are then shared too)
  --info FILE         where the tracker's reply to SEND is saved
                      (default info.txt)
  --host HOST         address to serve on (default 0.0.0.0)
  --port PORT         port to serve on, 0 for any free one (default 5555)
  --max-upload-rate R all uploads together send at most R bytes per second
                      (suffix K, M or G: powers of 1024; default: no limit)
  --max-uploads N     most uploads at once; more get 503 busy (default 64)
  --max-connections N refuse connections beyond N with 421 (default 20000)
  --max-per-address N the same, per remote address; 0: no limit (default 0)
  --no-watch          do not watch the folder (by default files added, changed
                      or removed are announced within about a second)
${NET}
${DOWNLOADS}
${COMMON}

Hashes are kept in DIR/.p2p-hashes, so a restart announces at once.
Commands, at the prompt or on standard input:
${PEER_COMMANDS}`,
  get: `usage: get [--out DIR] [--tracker HOST:PORT] NAME...

Downloads every NAME (each argument is one file name, spaces and commas
included) in parallel, then exits: 0 when all arrived, 1 when any failed,
2 on a usage error.

  --out DIR           where the files land (default: the current folder)
  --info FILE         also save the tracker's reply there
  --wait              wait for files nobody has yet, downloading each the
                      moment a peer announces it (up to --wait-timeout)
${NET}
${DOWNLOADS}
${COMMON}

On a terminal each running download shows a live progress line.`,
  cat: `usage: cat [--tracker HOST:PORT] NAME

Relay mode: asks the tracker for the active peers, asks each in turn for
NAME, writes the first copy to standard output. Exits 1 if none has it.
When standard error is a terminal, it shows the transfer's progress there.

${NET}
${COMMON}`,
  demo: `usage: demo

Starts a tracker and three peers on 127.0.0.1 with sample folders in a
temporary directory, downloads files between them (one from a holder that
has stopped serving, to show the fall-back), relays one with cat, waits
for a file that then appears in a watched folder, and cleans up.`,
};
