/** A truststore in a local file (`file:///abs/path` or a plain path). */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { MAX_TRUSTSTORE_BYTES, type TruststoreSource } from './source.js';

export function fileSource(uri: string): TruststoreSource {
  const path = uri.startsWith('file://') ? decodeURIComponent(uri.slice('file://'.length)) : uri;
  return {
    uri,
    async fetch() {
      let fh;
      try {
        // O_NONBLOCK: a FIFO without a writer would block the open (and the reload) before fstat can refuse it.
        fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
        const st = await fh.stat();
        if (!st.isFile()) throw new Error(`${uri}: not a regular file`);
        if (st.size > MAX_TRUSTSTORE_BYTES)
          throw new Error(`${uri}: ${st.size} bytes is over the ${MAX_TRUSTSTORE_BYTES} byte limit`);
        // Read what stat promised at most, so a file that grows while being read cannot exhaust memory.
        const buf = Buffer.alloc(st.size);
        let off = 0;
        while (off < st.size) {
          const { bytesRead } = await fh.read(buf, off, st.size - off, off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        // Rewritten in place while being read (truncated, then written again): the bytes may mix two versions.
        const after = await fh.stat();
        if (off !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs)
          throw new Error(`${uri}: changed while being read (replace the file with a rename so readers see it whole)`);
        return { bytes: buf.subarray(0, off), version: null };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new Error(`${uri}: no such file`);
        if (code === 'EACCES') throw new Error(`${uri}: permission denied`);
        if (code === 'EISDIR') throw new Error(`${uri}: is a directory`);
        throw e instanceof Error && e.message.startsWith(uri) ? e : new Error(`${uri}: ${(e as Error).message}`);
      } finally {
        await fh?.close();
      }
    },
  };
}
