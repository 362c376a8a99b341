/**
 * What `--help` prints: the usage of the command line and of each role,
 * and the commands of a peer's prompt.
 *
 * @module
 */

/** The widest a line of help may be. */
const WIDTH = 80;
/** The column every flag's description starts in; a longer flag gets its description on the next line. */
const COLUMN = 24;

/** `text` in lines of at most `width` columns, broken between words. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/**
 * One flag of a role's usage: two spaces, the flag as typed, then its
 * description from column {@link COLUMN}, wrapped to {@link WIDTH}.
 */
function flag(typed: string, description: string): string {
  const indent = " ".repeat(COLUMN);
  const [first, ...rest] = wrap(description, WIDTH - COLUMN).map((line) => indent + line);
  const head = `  ${typed}`;
  const opening = head.length + 2 <= COLUMN ? head + first.slice(head.length) : `${head}\n${first}`;
  return [opening, ...rest].join("\n");
}

/** The flags shared by the roles that talk to a tracker (`--tracker` in a one-shot's words and a peer's). */
const TRACKERS = "the tracker (default 127.0.0.1:4444), or several that share one index, separated by commas";
const TRACKER = flag("--tracker HOST:PORT[,...]", `${TRACKERS}: the first that answers is used`);
const PEER_TRACKER = flag(
  "--tracker HOST:PORT[,...]",
  `${TRACKERS}: the first that answers is used, and when it goes away the next, which is told the folder`,
);
const TIMEOUT = flag("--timeout SECONDS", "connect and idle timeout of each try (default 10)");
const SOURCES = flag("--sources N", "most holders one file comes from at once (default 4)");
const SECRET = flag(
  "--secret S",
  "deal only with parties that know the secret S (or set P2P_SECRET instead, which no process listing shows); " +
    "peer traffic is then encrypted (default: open)",
);
const TLS_CERT = [
  flag("--tls-cert FILE", "listen with TLS, with this certificate (PEM); goes with --tls-key (default: plain TCP)"),
  flag("--tls-key FILE", "the certificate's private key (PEM, unencrypted)"),
].join("\n");
const TLS_CA = flag(
  "--tls-ca FILE",
  "connect to the tracker and peers with TLS, trusting the CA in FILE (PEM); their certificates must name the " +
    "address dialled (default: plain TCP; a network is all TLS or all plain)",
);
const HELP = flag("-h, --help", "this text");
const UNITS = "like 512K or 1.5G (K, M, G with or without B or iB: all powers of 1024; default: no limit)";
const DOWNLOAD_RATE = flag(
  "--max-download-rate R",
  `all downloads together receive at most R bytes per second, ${UNITS}`,
);
const JSON_FLAG = flag("--json", "print one JSON object per file (docs/JSON.md)");
const CONNECTIONS = [
  flag("--max-connections N", "refuse connections beyond N with 421 (default 20000)"),
  flag("--max-per-address N", "the same, per remote address; 0: no limit (default 0)"),
].join("\n");

/** The commands of a peer's prompt, as `HELP` lists them. */
export const PEER_COMMANDS = `  SEND NAME[, NAME...]      download files; a name with a comma goes in
                            double quotes ("a, b.txt", as LIST shows it)
  SEND --wait NAME[, ...]   the same, waiting for files nobody has yet
  SEND -- NAME[, ...]       for names that start with -- (SEND -- --x.txt)
  PEERS [--page N]          list the active peers
  LIST [--page N] [TEXT]    list indexed files whose names contain TEXT
  STATS                     the tracker's counters
  PARTS                     list leftover part files of interrupted downloads
  CLEAN                     discard them
  HELP                      this list
  QUIT                      cancel what runs, leave the tracker and stop
                            (EXIT and Ctrl-D too; Ctrl-C cancels downloads)`;

/**
 * Each role's usage text (`main` for the command line as a whole), printed
 * by `--help`. A usage error prints one line and points here.
 */
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

'main.ts <role> --help' (or 'main.ts help <role>') tells more.`,
  tracker: `usage: tracker [flags]

${flag("--host HOST", "address to listen on (default 0.0.0.0)")}
${flag("--port PORT", "port to listen on, 0 for any free one (default 4444)")}
${
    flag(
      "--http-port PORT",
      "also serve a web page, the HTTP API and Metalink there, 0 for any free port (default: off); HTTPS with " +
        "--tls-cert, and with --secret (which then needs --tls-cert) every request needs the secret's bearer token",
    )
  }
${
    flag(
      "--demote-after N",
      "stop offering a holder once N downloaders reported it failing (and more failed than succeeded; default 2)",
    )
  }
${
    flag(
      "--idle-timeout S",
      "close a session that sends no whole line for S seconds; its files leave the index (default 120; peers PING)",
    )
  }
${CONNECTIONS}
${flag("--stats-every S", "log a stats line every S seconds; 0: never (default 60)")}
${
    flag(
      "--store URL",
      "memory (default), redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT[,...]: " +
        "every tracker given the same Redis shares one index",
    )
  }
${
    flag(
      "--lease S",
      "with a Redis store: a tracker that dies leaves its entries offered at most S seconds (default 60)",
    )
  }
${SECRET}
${TLS_CERT}
${HELP}

Prints 'listening on HOST:PORT', then one line per peer event. SIGINT or
SIGTERM stops it.`,
  peer: `usage: peer [flags]

${flag("--dir DIR", "the shared folder (default ./files)")}
${flag("--out DIR", "where downloads land (default: the shared folder, and they are then shared too)")}
${flag("--info FILE", "file for the tracker's reply to SEND (default info.txt)")}
${flag("--host HOST", "address to serve on (default 0.0.0.0)")}
${flag("--port PORT", "port to serve on, 0 for any free one (default 5555)")}
${
    flag(
      "--http-port PORT",
      "also serve the folder over HTTP there, 0 for any free port (default: off); HTTPS with --tls-cert, and " +
        "with --secret (which then needs --tls-cert) every request needs the secret's bearer token",
    )
  }
${
    flag(
      "--max-upload-rate R",
      `all uploads together send at most R bytes per second, ${UNITS}`,
    )
  }
${flag("--max-uploads N", "most uploads at once; more get 503 busy (default 64)")}
${CONNECTIONS}
${
    flag(
      "--no-watch",
      "do not watch the folder (by default files added, changed or removed are announced within about a second)",
    )
  }
${
    flag(
      "--no-partial",
      "serve a download only once it has landed whole, not its verified chunks while it runs",
    )
  }
${PEER_TRACKER}
${TIMEOUT}
${SOURCES}
${DOWNLOAD_RATE}
${flag("--wait-timeout S", "how long SEND --wait waits, whole seconds (default 300)")}
${JSON_FLAG}
${SECRET}
${TLS_CERT}
${TLS_CA}
${HELP}

Relative paths are taken from the folder the command is typed in. Hashes
are kept in DIR/.p2p-hashes, so a restart announces at once.
Commands, at the prompt or on standard input:
${PEER_COMMANDS}`,
  get: `usage: get [flags] NAME...
       get --parts | --clean [--out DIR]

Downloads every NAME (each argument is one file name, spaces and commas
included) in parallel, then exits: 0 when all arrived, 1 when any failed,
2 on a usage error.

${flag("--out DIR", "where the files land (default: the current folder)")}
${flag("--info FILE", "also save the tracker's reply there")}
${
    flag(
      "--wait",
      "wait for files nobody has yet, downloading each the moment a peer announces it (up to --wait-timeout)",
    )
  }
${flag("--wait-timeout S", "how long --wait waits, whole seconds (default 300)")}
${TRACKER}
${TIMEOUT}
${SOURCES}
${DOWNLOAD_RATE}
${JSON_FLAG}
${SECRET}
${TLS_CA}
${
    flag(
      "--parts",
      "list the hidden part files interrupted downloads left in the --out folder (a later get of the same file " +
        "resumes from them)",
    )
  }
${flag("--clean", "discard those part files")}
${HELP}

On a terminal each running download shows a live progress line. Relative
paths are taken from the folder the command is typed in.`,
  cat: `usage: cat [flags] NAME

Relay mode: asks the tracker for the active peers, asks each in turn for
NAME, writes the first copy to standard output. Exits 1 if none has it.
When standard error is a terminal, it shows the transfer's progress there.

${TRACKER}
${TIMEOUT}
${SECRET}
${TLS_CA}
${HELP}`,
  demo: `usage: demo

Starts a tracker and three peers on 127.0.0.1 with sample folders in a
temporary directory, downloads files between them (one from a holder that
has stopped serving, to show the fall-back), relays one with cat, waits
for a file that then appears in a watched folder, and cleans up.

${HELP}`,
};
