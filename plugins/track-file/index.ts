import * as path from 'node:path';
import {
  ALIVED_VERSION,
  block,
  custom,
  filePath,
  int,
  INVALID,
  Keyword,
  nearest,
  sub,
  trackerHeader,
  trackerWeight,
  trackReference,
  value,
  type AlivedPlugin,
  type ArgsParser,
  type CheckCtx,
  type Pos,
  type Stmt,
  type TrackReference,
  clip,
} from '../../core/sdk';
import { createFileTracker, type TrackFileConfig } from './tracker';

export { createFileTracker, fileUp, type FileTrackerOptions, type TrackFileConfig } from './tracker';
export { parseTrackedNumber, strtol } from './number';

/**
 * track_file blocks (and their deprecated spelling vrrp_track_file) and the
 * track_file lists that reference them, as keepalived 2.2.8 reads them
 * (keepalived/trackers/track_file.c). The number in the file, times the
 * weight, moves the priority of the instances and sync groups tracking it.
 */

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): typeof INVALID {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

/** The file may not exist yet (init_file creates it), but its directory must: keepalived watches it with inotify. */
const trackedFile = custom('<PATH>', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs the path of the file to track`);
  if (words.length > 1) return error(ctx, words[1]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes one path; quote a path that has blanks`);
  const p = filePath().parse(words[0]!, ctx);
  if (p === INVALID) return INVALID;
  const dir = path.dirname(p);
  if (ctx.host.fileExists(dir) === false) {
    ctx.diags.warning('ALIVED_CONFIG_HOST_FACT', words[0]!.pos, `the directory '${dir}' of the tracked file does not exist on this host`);
  }
  return p;
});

export interface FileWeight {
  /** the number read from the file is multiplied by it; 0: a non-zero number means FAULT */
  value: number;
  reverse: boolean;
}

/** the range of a weight, here and in the track list's entries */
const WEIGHT = { min: -254, max: 254 };

/** `<-254..254> [reverse]` */
const weight: ArgsParser<FileWeight> = trackerWeight(WEIGHT);

export interface InitFile {
  /** written at startup; default 0 */
  value: number;
  /** overwrite an existing file, not only create a missing one */
  overwrite: boolean;
}

/** `[<VALUE>] [overwrite]` in any order */
const initFile: ArgsParser<InitFile> = custom('[<-254..254>] [overwrite]', (words, _at, keyword, ctx) => {
  const out: InitFile = { value: 0, overwrite: false };
  let ok = true;
  for (const w of words) {
    if (w.text === 'overwrite') {
      out.overwrite = true;
      continue;
    }
    if (/^-?\d/.test(w.text)) {
      const n = int({ min: -254, max: 254 }).parse(w, ctx);
      if (n === INVALID) ok = false;
      else out.value = n;
      continue;
    }
    const hint = nearest(w.text, ['overwrite']);
    error(
      ctx,
      w.pos,
      'ALIVED_CONFIG_BAD_VALUE',
      `unknown ${keyword} option '${clip(w.text)}': expected a value and/or overwrite${hint ? ` (did you mean '${hint}'?)` : ''}`,
    );
    ok = false;
  }
  return ok ? out : INVALID;
});

export const trackFileSchema = block(
  {
    file: value(trackedFile).required().doc('the file holding a number'),
    weight: value(weight).default({ value: 1, reverse: false }).doc('-254..254 [reverse]; default 1'),
    init_file: value(initFile).doc('[VALUE] [overwrite]: create the file with VALUE (default 0) at startup'),
  },
  {
    header: trackerHeader,
    defines: { kind: 'track_file', name: (v: { name: string }) => v.name, keepalived: { firstWins: true, resolvedWhileParsing: true } },
  },
);

export type TrackFileEntry = TrackReference;

/** `<TRACK_FILE_NAME> [weight <-254..254> [reverse|noreverse]]` */
export const trackFileEntry: ArgsParser<TrackFileEntry> = trackReference({
  kind: 'track_file',
  describe: '<TRACK_FILE>',
  refersTo: 'track_file',
  weight: WEIGHT,
  wording: 'plugin',
});

/** The old spelling: the same block, with a note where it is used. */
class DeprecatedSpelling<T, O> extends Keyword<T, O> {
  constructor(
    base: Keyword<T, O>,
    private readonly current: string,
  ) {
    super(base.shape, base.meta, base.validators);
  }

  override parse(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined) {
    ctx.diags.note('ALIVED_CONFIG_DEPRECATED', stmt.name.pos, `'${keyword}' is the old spelling of '${this.current}'; accepted`);
    return super.parse(stmt, keyword, ctx, inheritedFeature);
  }
}

const plugin: AlivedPlugin = {
  name: 'track-file',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerTracker({
      keyword: 'track_file',
      schema: trackFileSchema,
      defines: 'track_file',
      reference: { keyword: 'track_file', entry: trackFileEntry },
      create: (config, ctx) => createFileTracker(config as TrackFileConfig, ctx),
    });
    // the feature registerTracker gives the tracker's own keywords
    api.registerKeyword('root', 'vrrp_track_file', new DeprecatedSpelling(sub(trackFileSchema).feature('vrrp-track').repeatable(), 'track_file'));
  },
};

export default plugin;
