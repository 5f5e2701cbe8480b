-- The sweep runner: a sweep (experiments/sweeps/NAME.lua) names an experiment
-- script, a list or grid of configurations (script options and --set config
-- keys) and seeds. Jobs are the configurations x seeds in a fixed order; a job
-- is addressed by its index (1-based: a Slurm array task id) and identified by
-- a short id, a hash of its canonical override text, so its results folder
-- stays the same across runs and edits of other configurations.
--
--   lua experiments/sweep.lua NAME            run what is not done, all cores; merge
--   lua experiments/sweep.lua NAME --dry-run  list the jobs and their state
--   lua experiments/sweep.lua NAME --list     one shell command per job (GNU parallel)
--   lua experiments/sweep.lua NAME --slurm    write a Slurm job-array batch script
--   lua experiments/sweep.lua NAME --merge    merge what finished; say what is missing
--   lua experiments/sweep.lua NAME --job I    run job I (what the commands above run)
--
-- Each job runs the script's run(opts) in its own process on --threads (1)
-- threads, writing into OUT/jobs/<id>/run/; then OUT/jobs/<id>/done.tsv (status,
-- message, the summary's measures) is written atomically, last: a job is
-- complete when done.tsv says ok. A job holds OUT/jobs/<id>.lock (mkdir is
-- atomic) while it runs, so two runners on one tree never run a job twice at
-- once; a lock whose process is gone (same host) is taken over.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local stats = require "stats"
local plot = require "plot"

local M = {}

local usage = [[
usage: lua experiments/sweep.lua NAME|FILE.lua [--dry-run | --list | --slurm | --merge | --job I]
                                 [--jobs N] [--threads N] [--out DIR] [--force]

Runs the sweep experiments/sweeps/NAME.lua (or FILE.lua): every job not yet
done, --jobs at a time (default: all cores), each a separate process on
--threads threads (default 1); then merges into OUT (default
results/sweeps/NAME/): summary.tsv (a row per job), configs.tsv (per
configuration: mean, sd, median, min, max over seeds of every measure),
table.md (mean +- sd) and a chart per measure with error bars.
  --dry-run   list the jobs (index, id, configuration, seed, state)
  --list      print one self-contained shell command per job, e.g.
              lua experiments/sweep.lua NAME --list | parallel -j 8
  --slurm     write OUT/slurm.sh, a job array (one task per job): sbatch it,
              then run --merge
  --merge     merge the finished jobs; list the missing and failed ones
  --job I     run job I only (skipped when done, unless --force)]]

-- ---------- small helpers ----------

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- FNV-1a, 32 bits, as 8 hex digits: the short id of a canonical text.
function M.short_id(text)
  local h = 0x811c9dc5
  for i = 1, #text do
    h = ((h ~ text:byte(i)) * 0x01000193) & 0xffffffff
  end
  return string.format("%08x", h)
end

local function self_pid()
  local f = io.open("/proc/self/stat")
  local pid = f and f:read("n")
  if f then f:close() end
  return math.tointeger(pid) or 0
end

local function hostname()
  local s = read_file("/proc/sys/kernel/hostname")
  return s and s:gsub("%s+$", "") or "unknown"
end

-- Reads a TSV written by results.write_tsv: '#' lines skipped, the first other
-- line names the columns. Returns the list of rows (tables keyed by column,
-- values as text; empty cells absent) and the column list.
function M.read_tsv(path)
  local text = read_file(path)
  if not text then return nil, "cannot read " .. experiment.display(path) end
  local cols, rows = nil, {}
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, 1) ~= "#" then
      local cells = {}
      for c in (line .. "\t"):gmatch("([^\t]*)\t") do cells[#cells + 1] = c end
      if not cols then
        cols = cells
      else
        local r = {}
        for i, c in ipairs(cols) do if cells[i] and cells[i] ~= "" then r[c] = cells[i] end end
        rows[#rows + 1] = r
      end
    end
  end
  return rows, cols or {}
end

-- ---------- loading a sweep ----------

local SWEEP_FIELDS = { experiment = true, about = true, seeds = true, options = true, set = true,
  configs = true, grid = true, metrics = true, cost = true, report = true, checkpoint_every = true }
-- script options a sweep may not set: the runner sets them per job
local RESERVED = { seed = true, out = true, quiet = true, threads = true, set = true,
  checkpoint = true, ["checkpoint-every"] = true, resume = true }

local function value_text(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if math.type(v) == "float" then
    local s = string.format("%.17g", v)
    for p = 1, 17 do -- the shortest form that reads back
      local t = string.format("%." .. p .. "g", v)
      if tonumber(t) == v then s = t; break end
    end
    return s
  end
  return tostring(v)
end

-- Resolves NAME or FILE.lua to the sweep file's path and the sweep's name.
function M.locate(name)
  if name:match("%.lua$") then
    return experiment.absolute(name), name:match("([^/]+)%.lua$")
  end
  if not name:match("^[%w_%-]+$") then
    error("sweep name '" .. name .. "': expected a name of experiments/sweeps/ or a .lua file", 0)
  end
  return experiment.root .. "/experiments/sweeps/" .. name .. ".lua", name
end

-- Loads and checks a sweep file; expands its jobs. Raises naming the file and
-- the field or key at fault. Returns the sweep: { name, file, script (the
-- experiment's module), configs = { {name, options, sets, text, id}, ... },
-- seeds, jobs = { {index, id, config, seed, text}, ... }, metrics, ... }.
function M.load(name)
  local file, sname = M.locate(name)
  local shown = experiment.display(file)
  local function fail(msg) error(shown .. ": " .. msg, 0) end
  local chunk, lerr = loadfile(file, "t", setmetatable({}, { __index = _G }))
  if not chunk then
    if not exists(file) then fail("no such sweep file") end
    error(tostring(lerr), 0)
  end
  local ok, def = pcall(chunk)
  if not ok then fail(tostring(def)) end
  if type(def) ~= "table" then fail("must return a table (got " .. type(def) .. ")") end
  for k in pairs(def) do
    if not SWEEP_FIELDS[k] then
      local names = {}
      for f in pairs(SWEEP_FIELDS) do names[#names + 1] = f end
      table.sort(names)
      fail("unknown field '" .. tostring(k) .. "' (allowed: " .. table.concat(names, ", ") .. ")")
    end
  end
  if type(def.experiment) ~= "string" then fail("field 'experiment' must name an experiment script") end
  if def.checkpoint_every ~= nil and math.type(def.checkpoint_every) ~= "integer"
    or (def.checkpoint_every or 1) < 1 then
    fail("field 'checkpoint_every' must be an integer >= 1 (epochs between a job's checkpoints)")
  end
  local script_file = def.experiment:match("%.lua$") and experiment.absolute(def.experiment)
    or (experiment.root .. "/experiments/" .. def.experiment .. ".lua")
  if not exists(script_file) then
    fail("field 'experiment': no script " .. experiment.display(script_file))
  end
  local sok, script = pcall(dofile, script_file)
  if not sok then fail("field 'experiment': " .. tostring(script)) end
  if type(script) ~= "table" or type(script.run) ~= "function" or type(script.spec) ~= "table" then
    fail("field 'experiment': " .. experiment.display(script_file) .. " returns no run(opts) and spec")
  end
  local vae = script.vae or experiment.load_vae()
  local spec_by = {}
  for _, s in ipairs(script.spec) do spec_by[s.name] = s end
  local config_keys = {}
  for _, k in ipairs(vae.config_keys()) do config_keys[k.name] = k end

  -- seeds: a list of integers >= 0, or a count n (seeds 0 .. n - 1)
  local seeds = def.seeds
  if math.type(seeds) == "integer" and seeds >= 1 then
    local list = {}
    for i = 1, seeds do list[i] = i - 1 end
    seeds = list
  end
  if type(seeds) ~= "table" or #seeds == 0 then
    fail("field 'seeds' must be a count >= 1 or a list of integers >= 0")
  end
  local seen_seed = {}
  for i, s in ipairs(seeds) do
    if math.type(s) ~= "integer" or s < 0 then fail(string.format("seeds[%d] must be an integer >= 0", i)) end
    if seen_seed[s] then fail(string.format("seeds[%d]: seed %d is listed twice", i, s)) end
    seen_seed[s] = true
  end

  -- One override (key = value) into options or sets; where names the entry.
  local function add_override(where, key, v, options, sets)
    if type(key) ~= "string" then fail(where .. ": keys must be names") end
    if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
      fail(where .. ": key '" .. key .. "' must have a string, number or boolean value (got " .. type(v) .. ")")
    end
    if RESERVED[key] then
      fail(where .. ": key '" .. key .. "' is set by the runner" ..
        (key == "set" and " (give config keys directly, or a list in field set)" or ""))
    end
    local s = spec_by[key]
    if s then
      local given = { [key] = v }
      if s.flag then given[key] = v == true or v == "true" end
      local cok, cerr = pcall(experiment.check_options, script.spec, given)
      if not cok then fail(where .. ": key '" .. key .. "': " .. tostring(cerr)) end
      options[key] = s.flag and given[key] or value_text(v)
    elseif config_keys[key] then
      local text = key .. "=" .. value_text(v)
      local cok, cerr = pcall(vae.config_set, {}, text)
      if not cok then fail(where .. ": key '" .. key .. "': " .. tostring(cerr)) end
      sets[key] = value_text(v)
    else
      fail(where .. ": key '" .. key .. "' is neither an option of " ..
        experiment.display(script_file) .. " nor a config key (vae.config_keys())")
    end
  end
  local function add_sets(where, list, sets)
    if type(list) ~= "table" then fail(where .. ": field 'set' must be a list of \"key=value\"") end
    for i, text in ipairs(list) do
      local key, v = tostring(text):match("^([%w_]+)=(.*)$")
      if not key then fail(string.format("%s: set[%d] '%s': expected key=value", where, i, tostring(text))) end
      if not config_keys[key] then
        fail(string.format("%s: set[%d]: unknown config key '%s'", where, i, key))
      end
      local cok, cerr = pcall(vae.config_set, {}, text)
      if not cok then fail(string.format("%s: set[%d]: key '%s': %s", where, i, key, tostring(cerr))) end
      sets[key] = v
    end
  end

  local base_options, base_sets = {}, {}
  if def.options ~= nil then
    if type(def.options) ~= "table" then fail("field 'options' must be a table of script options") end
    for k, v in pairs(def.options) do add_override("options", k, v, base_options, base_sets) end
  end
  if def.set ~= nil then add_sets("field set", def.set, base_sets) end

  -- The configurations: an explicit list, and/or the product of a grid.
  local configs = {}
  local function add_config(where, cname, entries)
    local options, sets = {}, {}
    for k, v in pairs(base_options) do options[k] = v end
    for k, v in pairs(base_sets) do sets[k] = v end
    for k, v in pairs(entries) do
      if k == "set" then add_sets(where, v, sets)
      elseif k ~= "name" then add_override(where, k, v, options, sets) end
    end
    -- canonical text: options by name, then config keys by name
    local parts, keys = {}, {}
    for k in pairs(options) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = options[k]
      parts[#parts + 1] = v == true and ("--" .. k) or ("--" .. k .. "=" .. v)
    end
    keys = {}
    for k in pairs(sets) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = "--set=" .. k .. "=" .. sets[k] end
    local text = table.concat(parts, " ")
    configs[#configs + 1] = { name = cname, options = options, sets = sets, text = text,
      id = M.short_id(def.experiment .. " " .. text) }
  end
  if def.configs ~= nil then
    if type(def.configs) ~= "table" then fail("field 'configs' must be a list of configurations") end
    for i, c in ipairs(def.configs) do
      local where = string.format("configs[%d]", i)
      if type(c) ~= "table" then fail(where .. " must be a table") end
      if type(c.name) ~= "string" or not c.name:match("^[%w_.+%-=,]+$") then
        fail(where .. ": field 'name' must be a label of letters, digits and _ . + - = ,")
      end
      add_config(where .. " ('" .. c.name .. "')", c.name, c)
    end
  end
  if def.grid ~= nil then
    if type(def.grid) ~= "table" or #def.grid == 0 then fail("field 'grid' must be a list of axes") end
    local axes = {}
    for i, a in ipairs(def.grid) do
      local where = string.format("grid[%d]", i)
      if type(a) ~= "table" or type(a.key) ~= "string" or type(a.values) ~= "table" or #a.values == 0 then
        fail(where .. " must be { key = NAME, values = {...}, labels = {...} (optional) }")
      end
      if a.labels and #a.labels ~= #a.values then fail(where .. ": labels must match values one to one") end
      axes[i] = a
    end
    -- the product, first axis slowest
    local function expand(i, entries, labels)
      if i > #axes then
        local e = {}
        for k, v in pairs(entries) do e[k] = v end
        add_config("grid (" .. table.concat(labels, ",") .. ")", table.concat(labels, ","), e)
        return
      end
      local a = axes[i]
      for j, v in ipairs(a.values) do
        entries[a.key] = v
        labels[i] = a.labels and a.labels[j] or (a.key .. "=" .. value_text(v))
        expand(i + 1, entries, labels)
      end
      entries[a.key] = nil
      labels[i] = nil
    end
    expand(1, {}, {})
  end
  if #configs == 0 then fail("no configurations (give field 'configs' or 'grid')") end
  local by_name, by_text = {}, {}
  for i, c in ipairs(configs) do
    if by_name[c.name] then fail(string.format("configs %d and %d are both named '%s'", by_name[c.name], i, c.name)) end
    if by_text[c.text] then
      fail(string.format("configurations '%s' and '%s' have the same overrides (%s)",
        configs[by_text[c.text]].name, c.name, c.text == "" and "none" or c.text))
    end
    by_name[c.name], by_text[c.text] = i, i
  end

  local metrics = def.metrics or { "train_loss", "val_loss", "val_kl" }
  if type(metrics) ~= "table" or #metrics == 0 then fail("field 'metrics' must be a list of summary columns") end
  for i, m in ipairs(metrics) do
    if type(m) ~= "string" or not m:match("^[%w_]+$") then fail(string.format("metrics[%d] must be a column name", i)) end
  end
  if def.cost ~= nil and type(def.cost) ~= "function" then fail("field 'cost' must be a function(job)") end
  if def.report ~= nil and type(def.report) ~= "function" then fail("field 'report' must be a function(ctx)") end

  -- jobs: configuration-major, seeds inner; index = (c - 1) * #seeds + s
  local jobs = {}
  for ci, c in ipairs(configs) do
    for si, seed in ipairs(seeds) do
      local text = c.text .. (c.text == "" and "" or " ") .. "--seed=" .. seed
      jobs[#jobs + 1] = { index = (ci - 1) * #seeds + si, config = c, config_index = ci, seed = seed,
        text = text, id = M.short_id(def.experiment .. " " .. text) }
    end
  end
  return { name = sname, file = file, def = def, script = script, script_file = script_file,
    vae = vae, configs = configs, seeds = seeds, jobs = jobs, metrics = metrics }
end

-- ---------- folders, state, locks ----------

function M.out_dir(sweep, out)
  return out and experiment.absolute(out) or (experiment.root .. "/results/sweeps/" .. sweep.name)
end

local function job_dir(out, job) return out .. "/jobs/" .. job.id end

-- The job's done.tsv as a row (nil when absent).
function M.job_result(out, job)
  local path = job_dir(out, job) .. "/done.tsv"
  if not exists(path) then return nil end
  local rows = M.read_tsv(path)
  return rows and rows[1]
end

local function try_mkdir(dir)
  local ok = os.execute("mkdir -- " .. experiment.shell_quote(dir) .. " 2>/dev/null")
  return ok == true or ok == 0
end

-- Takes the job's lock; returns true, or false and who holds it.
local function lock(out, job)
  experiment.mkdir(out .. "/jobs")
  local dir = job_dir(out, job) .. ".lock"
  local me = hostname() .. " " .. self_pid()
  for _ = 1, 2 do
    if try_mkdir(dir) then
      local f = io.open(dir .. "/owner", "w")
      if f then f:write(me, "\n"); f:close() end
      return true, dir
    end
    local owner = (read_file(dir .. "/owner") or ""):gsub("%s+$", "")
    local host, pid = owner:match("^(%S+) (%d+)$")
    if host == hostname() and pid and not exists("/proc/" .. pid .. "/stat") then
      os.remove(dir .. "/owner") -- its process is gone: take it over
      os.remove(dir)
    else
      return false, owner ~= "" and owner or "a runner starting up"
    end
  end
  return false, "a runner that keeps taking it"
end

local function unlock(dir)
  os.remove(dir .. "/owner")
  os.remove(dir)
end

-- ---------- running one job ----------

local function job_label(sweep, job)
  return string.format("job %d/%d [%s seed %d, id %s]", job.index, #sweep.jobs, job.config.name,
    job.seed, job.id)
end

-- Whether the script has the --checkpoint and --resume options.
function M.takes_checkpoints(script)
  local has = {}
  for _, s in ipairs(script.spec or {}) do has[s.name] = true end
  return has.checkpoint and has.resume or false
end

-- The options run(opts) gets for a job.
function M.job_options(job, threads, out)
  local given = { seed = job.seed, threads = threads or 1, quiet = true, out = out, set = {} }
  for k, v in pairs(job.config.options) do
    given[k] = v == "true" and true or v == "false" and false or v
  end
  local keys = {}
  for k in pairs(job.config.sets) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do given.set[#given.set + 1] = k .. "=" .. job.config.sets[k] end
  return given
end

-- The finished job of configuration `name` at the median of `metric` over its
-- seeds (the lower median for an even count; ties by seed), or nil: the seed
-- whose figures a report shows for that configuration.
function M.median_job(merged, name, metric)
  local bc = merged.by_config[name]
  if not (bc and bc.jobs and #bc.jobs > 0) then return nil end
  local js = {}
  for i, j in ipairs(bc.jobs) do js[i] = j end
  table.sort(js, function(a, b)
    local x, y = tonumber(a.row[metric]) or 0, tonumber(b.row[metric]) or 0
    if x ~= y then return x < y end
    return a.job.seed < b.job.seed
  end)
  return js[(#js + 1) // 2]
end

-- Runs job (a job table) unless done; writes its done.tsv. Returns the status
-- ("ok", "failed", "skipped", "locked") and a message.
function M.run_job(sweep, out, job, o)
  o = o or {}
  local prev = M.job_result(out, job)
  if prev and prev.status == "ok" and not o.force then return "skipped", "done already" end
  local got, holder = lock(out, job)
  if not got then return "locked", "held by " .. holder end
  local dir = job_dir(out, job)
  prev = M.job_result(out, job) -- another runner may have finished it meanwhile
  if prev and prev.status == "ok" and not o.force then
    unlock(dir .. ".lock")
    return "skipped", "done already"
  end
  experiment.mkdir(dir .. "/run")
  -- With the sweep file's checkpoint_every (for scripts that take --checkpoint),
  -- a job saves a checkpoint every that many epochs and trains from it when one
  -- is there: a job killed mid-run (a Slurm time limit, a lost host) resumes at
  -- its last checkpoint, bit-identical to an unbroken run. A finished job
  -- removes it. Sweeps of short jobs leave it off: a restart costs less.
  local jo = M.job_options(job, o.threads, dir .. "/run")
  local ckpt = dir .. "/checkpoint.bin"
  if sweep.def.checkpoint_every and M.takes_checkpoints(sweep.script) then
    if o.force then os.remove(ckpt) end
    jo.checkpoint, jo.resume, jo["checkpoint-every"] = ckpt, true, sweep.def.checkpoint_every
  end
  local t0 = sweep.vae.clock()
  -- the script's own lines go to the job's log, not to the runner's terminal
  local log = io.open(dir .. "/log.txt", "w")
  local saved_out, saved_err = io.stdout, io.stderr
  if log then io.stdout, io.stderr = log, log end
  local ok, summary, msg = pcall(sweep.script.run, jo)
  io.stdout, io.stderr = saved_out, saved_err
  if log then log:close() end
  local status = "ok"
  if not ok then
    status, msg, summary = "failed", tostring(summary), nil
  elseif summary == nil then
    status, msg = "failed", tostring(msg)
  elseif summary.failed then
    status, msg = "failed", tostring(summary.message or msg or "the run reported failure")
  end
  local cols = { "index", "id", "config", "seed", "status", "message", "job_seconds" }
  local row = { job.index, job.id, job.config.name, job.seed, status,
    status == "ok" and "" or (msg or ""):gsub("[\t\n]", " "), sweep.vae.clock() - t0 }
  if summary then
    local keys = {}
    for k, v in pairs(summary) do
      if (type(v) == "number" or type(v) == "string" or type(v) == "boolean") and k ~= "out"
        and k ~= "seed" and k ~= "config" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do cols[#cols + 1] = k; row[#row + 1] = summary[k] end
  end
  local wok, werr = pcall(results.write_tsv, dir .. "/done.tsv",
    { experiment = "sweep " .. sweep.name .. ": " .. job_label(sweep, job), overrides = job.text },
    cols, { row })
  if wok and status == "ok" then os.remove(ckpt) end
  unlock(dir .. ".lock")
  if not wok then return "failed", werr end
  return status, msg
end

-- ---------- engines ----------

local function lua_command()
  local i, interp = -1, nil
  while arg and arg[i] do interp = arg[i]; i = i - 1 end -- the interpreter as started
  return interp or "lua5.4"
end

-- The self-contained shell command of job index i.
function M.job_command(sweep, i, o)
  local q = experiment.shell_quote
  local parts = { "cd", q(experiment.root), "&&", q(lua_command()), "experiments/sweep.lua",
    q(sweep.file == experiment.root .. "/experiments/sweeps/" .. sweep.name .. ".lua" and sweep.name
      or sweep.file) }
  if o.out then parts[#parts + 1] = "--out " .. q(experiment.absolute(o.out)) end
  if o.threads and o.threads ~= 1 then parts[#parts + 1] = "--threads " .. o.threads end
  if o.force then parts[#parts + 1] = "--force" end
  parts[#parts + 1] = "--job " .. i
  return table.concat(parts, " ")
end

function M.slurm_script(sweep, o, out)
  local cmd = M.job_command(sweep, "$SLURM_ARRAY_TASK_ID", o)
  return table.concat({
    "#!/bin/sh",
    "# The sweep " .. sweep.name .. " as a Slurm job array: one task per job (" .. #sweep.jobs .. ").",
    "# Submit with: sbatch " .. experiment.display(out .. "/slurm.sh") .. "; then merge with:",
    "#   lua experiments/sweep.lua " .. sweep.name .. (o.out and (" --out " .. experiment.display(out)) or "") .. " --merge",
    "#SBATCH --job-name=sweep-" .. sweep.name,
    "#SBATCH --array=1-" .. #sweep.jobs,
    "#SBATCH --ntasks=1",
    "#SBATCH --cpus-per-task=" .. (o.threads or 1),
    "#SBATCH --output=" .. out .. "/slurm/%A_%a.log",
    "# a finished job is skipped, so a resubmitted array resumes",
    (cmd:gsub("%$SLURM_ARRAY_TASK_ID", '"$SLURM_ARRAY_TASK_ID"')),
  }, "\n") .. "\n"
end

-- Runs the pending jobs, n at a time, as separate processes (xargs -P).
local function run_local(sweep, out, o)
  local pending = {}
  for _, job in ipairs(sweep.jobs) do
    local r = M.job_result(out, job)
    if not (r and r.status == "ok") or o.force then pending[#pending + 1] = job end
  end
  local n = o.jobs or experiment.cores()
  io.stdout:write(string.format("sweep %s: %d jobs, %d done, %d to run, %d at a time\n", sweep.name,
    #sweep.jobs, #sweep.jobs - #pending, #pending, n))
  if #pending == 0 then return 0 end
  if sweep.def.cost then -- the longest first, so the last ones are short
    local cost = {}
    for _, job in ipairs(pending) do cost[job] = sweep.def.cost(job) or 0 end
    table.sort(pending, function(a, b)
      if cost[a] ~= cost[b] then return cost[a] > cost[b] end
      return a.index < b.index
    end)
  end
  local list = os.tmpname()
  local f = assert(io.open(list, "w"))
  for _, job in ipairs(pending) do f:write(job.index, "\n") end
  f:close()
  local base = M.job_command(sweep, "", o):gsub(" %-%-job $", " --job")
  local t0 = sweep.vae.clock()
  os.execute("xargs -P " .. n .. " -n 1 sh -c " .. experiment.shell_quote(base .. ' "$1"') .. " _ < "
    .. experiment.shell_quote(list))
  os.remove(list)
  return sweep.vae.clock() - t0, #pending
end

-- ---------- merging ----------

local function is_number(s) return s ~= nil and tonumber(s) ~= nil end

-- Merges the jobs' done.tsv files into OUT: summary.tsv, configs.tsv, table.md
-- and charts. Returns the merge: { rows (per job, done or not), by_config =
-- { [name] = { [metric] = {values...} } }, missing = {jobs}, failed = {jobs},
-- ok = count }.
function M.merge(sweep, out, o)
  o = o or {}
  local merged = { rows = {}, missing = {}, failed = {}, ok = 0, by_config = {}, stats = {} }
  local cols = { "index", "id", "config_index", "config", "seed", "status", "message" }
  for _, m in ipairs(sweep.metrics) do cols[#cols + 1] = m end
  cols[#cols + 1] = "job_seconds"
  local rows = {}
  for _, job in ipairs(sweep.jobs) do
    local r = M.job_result(out, job)
    local values = { job.index, job.id, job.config_index, job.config.name, job.seed,
      r and r.status or "missing", r and r.message or "" }
    if not r then
      merged.missing[#merged.missing + 1] = job
    elseif r.status ~= "ok" then
      merged.failed[#merged.failed + 1] = { job = job, message = r.message or "" }
    else
      merged.ok = merged.ok + 1
      local bc = merged.by_config[job.config.name] or {}
      merged.by_config[job.config.name] = bc
      for _, m in ipairs(sweep.metrics) do
        bc[m] = bc[m] or {}
        if is_number(r[m]) then table.insert(bc[m], tonumber(r[m])) end
      end
      bc.seeds = bc.seeds or {}
      table.insert(bc.seeds, job.seed)
      bc.jobs = bc.jobs or {}
      table.insert(bc.jobs, { job = job, row = r })
    end
    for mi, m in ipairs(sweep.metrics) do values[7 + mi] = r and r[m] or nil end
    values[8 + #sweep.metrics] = r and r.job_seconds or nil
    rows[#rows + 1] = values
    merged.rows[#merged.rows + 1] = { job = job, row = r }
  end
  experiment.mkdir(out)
  local meta = { experiment = "sweep " .. sweep.name .. " (" .. experiment.display(sweep.file) .. ")",
    about = sweep.def.about, script = experiment.display(sweep.script_file),
    jobs = string.format("%d (%d configurations x %d seeds): %d ok, %d failed, %d missing",
      #sweep.jobs, #sweep.configs, #sweep.seeds, merged.ok, #merged.failed, #merged.missing) }
  results.write_tsv(out .. "/summary.tsv", meta, cols, rows)

  -- per configuration: n, failed, and mean, sd, median, min, max of every metric
  local ccols = { "config_index", "config", "n", "failed" }
  for _, m in ipairs(sweep.metrics) do
    for _, s in ipairs { "mean", "sd", "median", "min", "max" } do ccols[#ccols + 1] = m .. "_" .. s end
  end
  local crow, md = {}, {}
  md[1] = "| config | n | " .. table.concat(sweep.metrics, " | ") .. " |"
  md[2] = "|---|---|" .. string.rep("---|", #sweep.metrics)
  local nfail = {}
  for _, f in ipairs(merged.failed) do nfail[f.job.config.name] = (nfail[f.job.config.name] or 0) + 1 end
  for ci, c in ipairs(sweep.configs) do
    local bc = merged.by_config[c.name] or {}
    local row = { ci, c.name, bc.seeds and #bc.seeds or 0, nfail[c.name] or 0 }
    local cells = {}
    merged.stats[c.name] = {}
    for mi, m in ipairs(sweep.metrics) do
      local v = bc[m] or {}
      if #v > 0 then
        local s = { mean = stats.mean(v), sd = stats.sd(v), median = stats.median(v),
          min = math.min(table.unpack(v)), max = math.max(table.unpack(v)), n = #v }
        merged.stats[c.name][m] = s
        for k, key in ipairs { "mean", "sd", "median", "min", "max" } do row[4 + (mi - 1) * 5 + k] = s[key] end
        cells[#cells + 1] = string.format("%.4g ± %.2g", s.mean, s.sd)
      else
        cells[#cells + 1] = "–" -- cells left nil: empty in the table
      end
    end
    crow[ci] = row
    md[#md + 1] = "| " .. c.name .. " | " .. (bc.seeds and #bc.seeds or 0) .. " | " .. table.concat(cells, " | ") .. " |"
  end
  results.write_tsv(out .. "/configs.tsv", meta, ccols, crow)
  results.write_text(out .. "/table.md", nil, "Mean ± sd over seeds (" .. experiment.display(out) ..
    "/configs.tsv has median, min and max).\n\n" .. table.concat(md, "\n") .. "\n")

  if not o.no_charts then
    experiment.mkdir(out .. "/charts")
    for _, m in ipairs(sweep.metrics) do
      local body = table.concat({
        "set terminal pngcairo size " .. math.max(640, 60 * #sweep.configs + 200) .. ",480 enhanced font 'DejaVu Sans,10'",
        plot.tsv,
        "set title " .. plot.quote(sweep.name .. ": " .. m .. " per configuration (mean ± sd over seeds; dots: seeds)") .. " noenhanced",
        "set ylabel " .. plot.quote(m) .. " noenhanced", "set grid ytics", "set key outside below",
        string.format("set xrange [-0.6:%d.6]", #sweep.configs - 1),
        "set xtics rotate by -35 left",
        "plot '../configs.tsv' using ($1-1):(column(\"" .. m .. "_mean\")):(column(\"" .. m
          .. "_sd\")):xtic(2) with yerrorbars pt 7 ps 1.2 lw 2 lc rgb '#1f77b4' title 'mean ± sd', \\",
        "     '../summary.tsv' using ($3-1+0.15):(column(\"" .. m
          .. "\")) with points pt 6 ps 0.6 lc rgb '#ff7f0e' title 'one seed'",
      }, "\n")
      local ok, err = plot.draw(out .. "/charts", m, body, nil)
      if not ok then io.stderr:write("warning: chart ", m, " not drawn: ", err, "\n") end
    end
  end
  return merged
end

local function report_merge(sweep, out, merged)
  io.stdout:write(string.format("merged %s: %d ok, %d failed, %d missing of %d jobs -> %s/summary.tsv, configs.tsv, table.md\n",
    sweep.name, merged.ok, #merged.failed, #merged.missing, #sweep.jobs, experiment.display(out)))
  for _, f in ipairs(merged.failed) do
    io.stdout:write(string.format("  failed: %s: %s\n", job_label(sweep, f.job), f.message))
  end
  if #merged.missing > 0 then
    local idx = {}
    for i, j in ipairs(merged.missing) do
      if i <= 20 then idx[#idx + 1] = j.index .. " (" .. j.config.name .. " seed " .. j.seed .. ")" end
    end
    io.stdout:write(string.format("  missing: %d jobs: %s%s\n", #merged.missing, table.concat(idx, ", "),
      #merged.missing > 20 and ", ..." or ""))
  end
end

-- ---------- the command line ----------

local SPEC = {
  { name = "dry-run", flag = true }, { name = "list", flag = true }, { name = "slurm", flag = true },
  { name = "merge", flag = true }, { name = "force", flag = true }, { name = "no-charts", flag = true },
  { name = "job", check = experiment.positive_int }, { name = "jobs", check = experiment.positive_int },
  { name = "threads", check = experiment.positive_int }, { name = "out" },
}

function M.main(args)
  if args[1] == "--help" or args[1] == "-h" or #args == 0 then
    io.stdout:write(usage, "\n")
    return #args == 0 and 2 or 0
  end
  local name = table.remove(args, 1)
  local given, perr = experiment.parse_args(args, SPEC)
  if not given then io.stderr:write("error: ", perr, "\n"); return 2 end
  local okc, o = pcall(experiment.check_options, SPEC, given)
  if not okc then io.stderr:write("error: ", tostring(o), "\n"); return 2 end
  local okl, sweep = pcall(M.load, name)
  if not okl then io.stderr:write("error: ", tostring(sweep), "\n"); return 2 end
  local out = M.out_dir(sweep, o.out)
  local eo = { out = o.out, threads = o.threads, jobs = o.jobs, force = o.force }

  if o.job then
    local job = sweep.jobs[o.job]
    if not job then
      io.stderr:write(string.format("error: %s: no job %d (jobs are 1..%d)\n", experiment.display(sweep.file), o.job, #sweep.jobs))
      return 2
    end
    local status, msg = M.run_job(sweep, out, job, eo)
    io.stdout:write(string.format("%s: %s%s\n", job_label(sweep, job), status, msg and msg ~= "" and (": " .. msg) or ""))
    return status == "failed" and 1 or 0
  end
  if o["dry-run"] then
    io.stdout:write(string.format("sweep %s: %d configurations x %d seeds = %d jobs (%s)\n", sweep.name,
      #sweep.configs, #sweep.seeds, #sweep.jobs, experiment.display(out)))
    for _, job in ipairs(sweep.jobs) do
      local r = M.job_result(out, job)
      io.stdout:write(string.format("%4d  %s  %-16s seed %-4d %-8s %s\n", job.index, job.id, job.config.name,
        job.seed, r and r.status or "pending", job.config.text))
    end
    return 0
  end
  if o.list then
    for i = 1, #sweep.jobs do io.stdout:write(M.job_command(sweep, i, eo), "\n") end
    return 0
  end
  if o.slurm then
    experiment.mkdir(out .. "/slurm")
    results.write_file(out .. "/slurm.sh", { M.slurm_script(sweep, eo, out) })
    io.stdout:write("wrote ", experiment.display(out .. "/slurm.sh"), " (", #sweep.jobs,
      " array tasks); submit with: sbatch ", experiment.display(out .. "/slurm.sh"), "\n")
    return 0
  end
  local seconds, ran
  if not o.merge then seconds, ran = run_local(sweep, out, eo) end
  local merged = M.merge(sweep, out, { no_charts = o["no-charts"] })
  if seconds and ran and ran > 0 then
    io.stdout:write(string.format("ran %d jobs in %.2f s wall on %d processes\n", ran, seconds, eo.jobs or experiment.cores()))
    merged.wall_seconds, merged.ran = seconds, ran
  end
  if sweep.def.report then
    local rok, rerr = pcall(sweep.def.report, { sweep = sweep, out = out, merged = merged,
      experiment = experiment, results = results, stats = stats, plot = plot, no_charts = o["no-charts"],
      job_dir = function(job) return job_dir(out, job) end,
      median_job = function(name, metric) return M.median_job(merged, name, metric) end })
    if not rok then io.stderr:write("error: the sweep's report failed: ", tostring(rerr), "\n"); return 1 end
  end
  report_merge(sweep, out, merged)
  return (#merged.failed > 0 or #merged.missing > 0) and 1 or 0
end

if experiment.is_main() then os.exit(M.main({ table.unpack(arg) })) end
return M
