import * as path from 'node:path';
import {
  ALIVED_VERSION,
  block,
  custom,
  filePath,
  int,
  INVALID,
  Keyword,
  name,
  nearest,
  sub,
  value,
  type AlivedPlugin,
  type ArgsParser,
  type CheckCtx,
  type Pos,
  type Stmt,
  clip,
} from '../../core/sdk';

/**
 * track_file blocks (and their deprecated spelling vrrp_track_file) and the
 * track_file lists that reference them, as keepalived 2.2.8 reads them
 * (keepalived/trackers/track_file.c). The number in the file, times the
 * weight, moves the priority of the instances and sync groups tracking it.
 */

/** a word echoed in a message, shortened when it is very long */

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): typeof INVALID {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

const header = custom('<NAME>', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a name: ${keyword} <NAME> { ... }`);
  if (words.length > 1) return error(ctx, words[1]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes one name; unexpected '${clip(words[1]!.text)}'`);
  const n = name.parse(words[0]!, ctx);
  return n === INVALID ? INVALID : { name: n };
});

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

/** `<-254..254> [reverse]` */
const weight: ArgsParser<FileWeight> = custom('<-254..254> [reverse]', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a value: ${keyword} <-254..254> [reverse]`);
  if (words.length > 2) return error(ctx, words[2]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes <-254..254> [reverse]; unexpected '${clip(words[2]!.text)}'`);
  const n = int({ min: -254, max: 254 }).parse(words[0]!, ctx);
  if (n === INVALID) return INVALID;
  const r = words[1];
  if (r && r.text !== 'reverse') return error(ctx, r.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown weight option '${clip(r.text)}': expected reverse`);
  return { value: n, reverse: r !== undefined };
});

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
    error(ctx, w.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown ${keyword} option '${clip(w.text)}': expected a value and/or overwrite${hint ? ` (did you mean '${hint}'?)` : ''}`);
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
  { header, defines: { kind: 'track_file', name: (v: { name: string }) => v.name } },
);

export interface TrackFileEntry {
  name: string;
  weight?: number;
  reverse?: boolean;
  pos: Pos;
}

/** `<TRACK_FILE_NAME> [weight <-254..254> [reverse|noreverse]]` */
export const trackFileEntry: ArgsParser<TrackFileEntry> = custom('<TRACK_FILE> [weight <-254..254> [reverse|noreverse]]', (words, at, keyword, ctx) => {
  const first = words[0];
  if (!first) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `an entry of '${keyword}' needs a track_file name`);
  ctx.refer('track_file', first.text, first.pos, keyword);
  const out: TrackFileEntry = { name: first.text, pos: first.pos };
  const opt = words[1];
  if (!opt) return out;
  if (opt.text !== 'weight') {
    const hint = nearest(opt.text, ['weight']);
    return error(ctx, opt.pos, 'ALIVED_CONFIG_UNKNOWN_KEYWORD', `unknown track_file option '${clip(opt.text)}'${hint ? ` (did you mean '${hint}'?)` : ''}; expected weight <-254..254> [reverse|noreverse]`);
  }
  const vw = words[2];
  if (!vw) return error(ctx, opt.pos, 'ALIVED_CONFIG_MISSING_VALUE', `option 'weight' needs a value: weight <-254..254>`);
  const n = int({ min: -254, max: 254 }).parse(vw, ctx);
  if (n === INVALID) return INVALID;
  out.weight = n;
  const r = words[3];
  if (r) {
    if (r.text !== 'reverse' && r.text !== 'noreverse') return error(ctx, r.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown weight option '${clip(r.text)}': expected reverse or noreverse`);
    out.reverse = r.text === 'reverse';
  }
  if (words[4]) return error(ctx, words[4].pos, 'ALIVED_CONFIG_EXTRA_VALUE', `unexpected '${clip(words[4].text)}' in ${keyword}`);
  return out;
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
    });
    // the feature registerTracker gives the tracker's own keywords
    api.registerKeyword('root', 'vrrp_track_file', new DeprecatedSpelling(sub(trackFileSchema).feature('vrrp-track').repeatable(), 'track_file'));
  },
};

export default plugin;
