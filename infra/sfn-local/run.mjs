// Runs ASL definitions with aws-local-stepfunctions and prints JSON lines:
// {"kind":"event",...} per event log entry, then {"kind":"result",...}.
//
// One execution:
//   node --require ./withresolvers.cjs run.mjs --definition sm.json
//     [--input in.json | --input-json '{...}'] [--wait-ms 0] [--retry-ms 0] [--validate]
// Many executions, one after another (JSON lines on stdin, each
// {"id","definition","input","endpoint","waitMs","retryMs","validate"};
// output lines carry "job": id):
//   node --require ./withresolvers.cjs run.mjs --jobs
//
// Every Wait state lasts wait-ms and every retry interval retry-ms
// (default 0). Tasks call Lambda through the JS SDK: set
// AWS_ENDPOINT_URL_LAMBDA (or a job's endpoint), AWS_REGION and dummy
// credentials. asl-validator runs only with --validate (it is slow).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { StateMachine } from 'aws-local-stepfunctions';

function parseArgs(argv) {
  const o = { waitMs: 0, retryMs: 0, validate: false, jobs: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--definition': o.definition = v; i++; break;
      case '--input': o.inputFile = v; i++; break;
      case '--input-json': o.inputJSON = v; i++; break;
      case '--wait-ms': o.waitMs = Number(v); i++; break;
      case '--retry-ms': o.retryMs = Number(v); i++; break;
      case '--validate': o.validate = true; break;
      case '--jobs': o.jobs = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.jobs && !o.definition) throw new Error('--definition or --jobs is required');
  return o;
}

// Sets every Wait and retryable state, at any depth, to the given ms.
function overrides(def, waitMs, retryMs) {
  const waits = {}, retries = {};
  const walk = (d) => {
    for (const [name, st] of Object.entries(d.States ?? {})) {
      if (st.Type === 'Wait') waits[name] = waitMs;
      if (Array.isArray(st.Retry)) retries[name] = retryMs;
      for (const b of st.Branches ?? []) walk(b);
      const proc = st.ItemProcessor ?? st.Iterator;
      if (proc) walk(proc);
    }
  };
  walk(def);
  return { waitTimeOverrides: waits, retryIntervalOverrides: retries };
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function execute(def, input, { waitMs = 0, retryMs = 0, validate = false }, tag) {
  const sm = new StateMachine(def, {
    validationOptions: validate ? { checkArn: true, checkPaths: true } : { noValidate: true },
  });
  const ex = sm.run(input, { overrides: overrides(def, waitMs, retryMs) });
  const events = (async () => {
    for await (const ev of ex.eventLogs) {
      const e = { ...tag, kind: 'event', type: ev.type };
      if (ev.state) {
        e.state = ev.state.name;
        e.stateType = ev.state.type;
        if (ev.type === 'StateExited') e.output = ev.state.output;
      }
      if (ev.parentState) e.parent = ev.parentState.name;
      if (ev.index !== undefined) e.index = ev.index;
      if (ev.Error !== undefined) e.error = ev.Error;
      if (ev.retry) e.attempt = ev.retry.attempt;
      out(e);
    }
  })();
  let res;
  try {
    const output = await ex.result;
    res = { ...tag, kind: 'result', ok: true, output: output === undefined ? null : output };
  } catch (err) {
    const c = err?.name === 'ExecutionError' && err.cause ? err.cause : err;
    let name = c?.name ?? 'Error';
    if (name === 'ExecutionTimeoutError') name = 'States.Timeout';
    res = { ...tag, kind: 'result', ok: false, error: name, cause: String(c?.message ?? c) };
  }
  await events;
  out(res);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts.jobs) {
    const def = JSON.parse(readFileSync(opts.definition, 'utf8'));
    let input = {};
    if (opts.inputFile) input = JSON.parse(readFileSync(opts.inputFile, 'utf8'));
    else if (opts.inputJSON !== undefined) input = JSON.parse(opts.inputJSON);
    await execute(def, input, opts, {});
    return;
  }
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const job = JSON.parse(line);
    // The SDK reads the endpoint when each Task builds its client, and
    // jobs run one at a time, so each job can have its own endpoint.
    if (job.endpoint) process.env.AWS_ENDPOINT_URL_LAMBDA = job.endpoint;
    try {
      await execute(job.definition, job.input ?? {}, job, { job: job.id });
    } catch (err) {
      out({ job: job.id, kind: 'result', ok: false, error: 'RunnerError', cause: String(err?.stack ?? err) });
    }
  }
}

main().catch((err) => {
  process.stderr.write(`sfn-local runner: ${err?.stack ?? err}\n`);
  process.exit(1);
});
