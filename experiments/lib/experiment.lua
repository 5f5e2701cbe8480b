-- What every experiment script repeats: finding the repository and the built
-- module, command-line options (the common ones and each script's own, --set,
-- --help), the command-line guard around a script's run(opts), output folders,
-- the progress display and host facts. Library code here never exits: errors
-- are raised (or returned as nil, message); only main() turns them into an
-- exit status (2 for bad options, 1 for failures).
local M = {}

-- ---------- paths ----------

-- Normalises a path: no "." parts, no "dir/..", no doubled slashes.
function M.normpath(p)
  local absolute = p:sub(1, 1) == "/"
  local parts = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then
      parts[#parts] = nil
    elseif part == ".." and absolute then -- "/.." is "/"
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  local s = table.concat(parts, "/")
  if absolute then return "/" .. s end
  return s == "" and "." or s
end

local function capture(cmd)
  local f = io.popen(cmd .. " 2>/dev/null")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

local function cwd()
  local pwd = os.getenv("PWD")
  -- $PWD is the shell's idea; check it names the directory we are in
  if pwd and pwd:sub(1, 1) == "/" then
    local a, b = io.open(pwd .. "/."), io.open("./.")
    if a then a:close() end
    if b then b:close() end
    if a then return pwd end
  end
  return capture("pwd") or "."
end
M.cwd = cwd()

function M.absolute(p)
  if p:sub(1, 1) ~= "/" then p = M.cwd .. "/" .. p end
  return M.normpath(p)
end

-- The path as a person wants to read it: relative to the working directory when
-- it lies under it, else absolute; normalised either way.
function M.display(p)
  local a = M.absolute(p)
  local base = M.cwd == "/" and "/" or M.cwd .. "/"
  if a == M.cwd then return "." end
  if a:sub(1, #base) == base then return a:sub(#base + 1) end
  return a
end

-- The repository root, from this file's own path (scripts may run from anywhere).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
M.root = M.absolute(here .. "/../..")

-- A word for /bin/sh: single-quoted, with every ' written as '\''.
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.mkdir(dir)
  local ok = os.execute("mkdir -p -- " .. M.shell_quote(dir))
  if ok ~= true and ok ~= 0 then error("cannot create directory " .. M.display(dir), 0) end
end

-- Checks, before any training, that dir can be created and written to (a probe
-- file made and removed). Raises naming dir.
function M.check_output(dir)
  M.mkdir(dir)
  local probe = string.format("%s/.write-probe-%d", dir, math.random(1 << 30))
  local f, ferr = io.open(probe, "w")
  local wrote = f and f:write("x") and f:close()
  os.remove(probe)
  if not wrote then
    error("cannot write to the output folder " .. M.display(dir) .. ": " .. tostring(ferr or "write failed"), 0)
  end
end

-- ---------- the module ----------

-- Loads vae (the ./vae.so of the repository unless one is loaded already).
-- Raises with what to do when it is not built.
-- The address-space limit (ulimit -v) in bytes, or nil when unlimited.
function M.address_limit()
  local f = io.open("/proc/self/limits")
  if not f then return nil end
  local limit
  for line in f:lines() do
    local v = line:match("^Max address space%s+(%S+)")
    if v then limit = tonumber(v) end
  end
  f:close()
  return limit
end

-- Under an address-space limit OpenBLAS's thread pool spins forever on a
-- failing allocation, at load time and when its threads start (an OpenBLAS
-- bug; a process under ulimit -v 200 MB never exited). So under a limit the
-- module is loaded only with OPENBLAS_NUM_THREADS=1, and --threads must be 1.
M.limit_message = "a virtual-memory limit (ulimit -v) is set, under which OpenBLAS hangs starting "
  .. "its threads (an OpenBLAS bug): run with OPENBLAS_NUM_THREADS=1 and --threads 1"

function M.load_vae()
  if package.loaded.vae then return package.loaded.vae end
  if M.address_limit() and os.getenv("OPENBLAS_NUM_THREADS") ~= "1" then error(M.limit_message, 0) end
  package.cpath = M.root .. "/?.so;" .. package.cpath
  local ok, vae = pcall(require, "vae")
  if not ok then
    error("cannot load the vae module (" .. tostring(vae) .. "); build it first: run 'make' in "
      .. M.root, 0)
  end
  return vae
end

-- ---------- options ----------

-- Option checkers: value -> converted value, or nil and a message.
function M.positive_int(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 1 then return nil, "expected an integer >= 1, got '" .. tostring(v) .. "'" end
  return n
end

function M.nonneg_int(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 then return nil, "expected an integer >= 0, got '" .. tostring(v) .. "'" end
  return n
end

-- One of the names, in any case (the name returned is the listed spelling).
function M.one_of(values)
  return function(v)
    for _, x in ipairs(values) do
      if x == v or (type(v) == "string" and x:lower() == v:lower()) then return x end
    end
    return nil, "expected one of " .. table.concat(values, ", ") .. ", got '" .. tostring(v) .. "'"
  end
end

-- The fastest backend built: vae.backends() lists them in preference order.
function M.fastest(vae)
  return vae.backends()[1].name
end

-- The options every script shares; `defaults` overrides the defaults by name
-- (backend, seed, threads, out_help). The vae module gives the backends.
function M.common_options(vae, defaults)
  defaults = defaults or {}
  local names = {}
  for _, b in ipairs(vae.backends()) do names[#names + 1] = b.name end
  return {
    { name = "backend", default = defaults.backend or M.fastest(vae), check = M.one_of(names),
      help = "compute backend: " .. table.concat(names, ", ") },
    { name = "threads", default = defaults.threads or (M.address_limit() and 1 or 0),
      check = function(v)
        local n, e = M.nonneg_int(v)
        if n and n ~= 1 and M.address_limit() then return nil, M.limit_message end
        return n, e
      end,
      help = "threads for backends that have them (0 = all cores)" },
    { name = "seed", default = defaults.seed or 1, check = M.nonneg_int,
      help = defaults.seed_help or "seed of the data, initialisation, order and noise" },
    { name = "out", neutral = true, help = defaults.out_help or "output directory" },
    { name = "set", list = true, check = M.config_checker(vae),
      help = "KEY=VALUE: set a model or training config key (repeatable; keys below)" },
    { name = "no-charts", flag = true, neutral = true, help = "write the tables only" },
    { name = "quiet", flag = true, neutral = true, help = "no progress output" },
    { name = "checkpoint", neutral = true,
      help = "checkpoint file: the model, its training state and history, every --checkpoint-every epochs" },
    { name = "checkpoint-every", neutral = true, check = M.positive_int, requires = "checkpoint",
      help = "epochs between checkpoints (default 1)" },
    { name = "resume", flag = true, neutral = true, requires = "checkpoint",
      help = "continue from --checkpoint when it exists (bit-identical to an unbroken run)" },
  }
end

-- --checkpoint, --checkpoint-every and --resume into fit's options. Checkpoints
-- are written between epochs (the state then holds the data order and every
-- RNG stream), so a killed run resumes at its last epoch boundary.
function M.apply_checkpoint(opts, fit_opts)
  if not opts.checkpoint then return end
  fit_opts.checkpoint = opts.checkpoint
  fit_opts.checkpoint_every = opts["checkpoint-every"]
  fit_opts.resume = opts.resume or nil
end

-- --set KEY=VALUE is checked when parsed (the key and the value's type), so a
-- bad one is an option error.
function M.config_checker(vae)
  return function(v)
    local ok, err = pcall(vae.config_set, {}, v)
    if not ok then return nil, tostring(err) end
    return v
  end
end

-- The help text: usage, the options, and the config keys --set takes.
function M.help_text(vae, usage, spec)
  local out = { usage, "", "Options:" }
  for _, s in ipairs(spec) do
    local d = s.default ~= nil and (" (default: " .. tostring(s.default) .. ")") or ""
    out[#out + 1] = string.format("  --%-14s %s%s", s.name .. (s.flag and "" or " V"), s.help, d)
  end
  out[#out + 1] = string.format("  --%-14s %s", "help", "print this help")
  if vae then
    out[#out + 1] = ""
    out[#out + 1] = "Config keys for --set (section, type, built-in default; the script's config comes first):"
    for _, k in ipairs(vae.config_keys()) do
      out[#out + 1] = string.format("  %-16s %-5s %-11s %-10s %s", k.name, k.section, k.type,
        tostring(k.default), k.help)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Fills in defaults and checks every value of opts (a table given to run()
-- in-process, or parsed from the command line). Raises naming the option.
function M.check_options(spec, given)
  local opts, byname = {}, {}
  for _, s in ipairs(spec) do
    byname[s.name] = s
    if s.list then
      opts[s.name] = {}
    elseif s.default ~= nil and s.check then
      opts[s.name] = assert(s.check(s.default)) -- a default in its checked form (a list, say)
    else
      opts[s.name] = s.default
    end
  end
  for k, v in pairs(given or {}) do
    local s = byname[k]
    if not s then error("unknown option '" .. tostring(k) .. "'", 0) end
    if s.flag then -- true, false or their text; nothing else (the text "false" is false)
      if v == "true" or v == "false" then v = v == "true" end
      if type(v) ~= "boolean" then
        error("option --" .. k .. ": expected true or false, got '" .. tostring(v) .. "'", 0)
      end
      opts[k] = v
    elseif s.list then
      if type(v) ~= "table" then v = { v } end
      local list = {}
      for i, x in ipairs(v) do
        local c, msg = x, nil
        if s.check then c, msg = s.check(x) end
        if c == nil then error("option --" .. k .. " " .. tostring(x) .. ": " .. msg, 0) end
        list[i] = c
      end
      opts[k] = list
    elseif v ~= nil then
      local c, msg = v, nil
      if s.check then c, msg = s.check(v) end
      if c == nil then error("option --" .. k .. ": " .. msg, 0) end
      opts[k] = c
    end
  end
  for _, s in ipairs(spec) do
    if s.requires and given and given[s.name] ~= nil and opts[s.name] and not opts[s.requires] then
      error("option --" .. s.name .. " needs --" .. s.requires, 0)
    end
  end
  return opts
end

-- Parses "--name value", "--name=value" and flags against spec into a table of
-- given values (unchecked). Returns it, or nil and a message; "help" is true
-- when --help (or -h) was given.
function M.parse_args(args, spec)
  local given, byname = {}, {}
  for _, s in ipairs(spec) do byname[s.name] = s end
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then return { help = true } end
    local name, value = a:match("^%-%-([%w_-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w_-]+)$") end
    local s = name and byname[name]
    if not s then return nil, "unknown argument '" .. a .. "'" end
    if s.flag then
      if value ~= nil and value ~= "true" and value ~= "false" then
        return nil, "--" .. name .. " takes no value (or =true, =false)"
      end
      value = value ~= "false"
    elseif value == nil then
      i = i + 1
      value = args[i]
      if value == nil then return nil, "--" .. name .. " needs a value" end
    end
    if s.list then
      given[name] = given[name] or {}
      table.insert(given[name], value)
    else
      given[name] = value
    end
    i = i + 1
  end
  return given
end

-- The command-line guard: parses args against script.spec, runs script.run and
-- returns the exit status (0; 1 when run fails or its summary has failed = true;
-- 2 for bad options). Messages go to stderr; --help goes to stdout.
function M.main(script, args)
  local given, err = M.parse_args(args, script.spec)
  if given and given.help then
    io.stdout:write(M.help_text(script.vae, script.usage, script.spec))
    return 0
  end
  local ok, checked
  if given then
    ok, checked = pcall(M.check_options, script.spec, given)
    if not ok then err = checked end
  end
  if not given or not ok then
    io.stderr:write("error: ", tostring(err), "\n(lua ", arg and arg[0] or "SCRIPT", " --help lists the options)\n")
    return 2
  end
  local rok, summary, msg = pcall(script.run, given) -- run checks them as any caller's
  if not rok then msg = summary; summary = nil end
  local results = package.loaded.results -- a failed run's staging folder goes, the old results stay
  if results and results.abort_run then results.abort_run() end
  if summary == nil then
    io.stderr:write("error: ", tostring(msg), "\n")
    return 1
  end
  return summary.failed and 1 or 0
end

-- True when the chunk calling it is the script lua was started with (not a
-- dofile or require from a test or a sweep runner).
function M.is_main(level)
  local src = debug.getinfo((level or 1) + 1, "S").source
  return arg ~= nil and arg[0] ~= nil and src:sub(1, 1) == "@"
    and M.absolute(src:sub(2)) == M.absolute(arg[0])
end

-- ---------- output folders ----------

-- Where a run writes: opts.out when given; else results/<experiment>/<config>/
-- in the repository for a run with the committed defaults, and
-- results/scratch/<experiment>/<config>/ (git-ignored) for any other run, so an
-- exploratory run never overwrites committed results. Options marked neutral
-- (out, quiet, no-charts, ...) and `config` do not count. Returns the folder
-- and why it was chosen.
function M.output_dir(spec, opts, experiment, config)
  if opts.out then return M.normpath(opts.out), "--out" end
  local changed = {}
  for _, s in ipairs(spec) do
    local v = opts[s.name]
    if s.name ~= "config" and not s.neutral then
      if s.list then
        if #v > 0 then changed[#changed + 1] = s.name end
      elseif s.flag then
        if v then changed[#changed + 1] = s.name end
      else
        local d = s.default
        if d ~= nil and s.check then d = s.check(d) end -- compare values, not spellings
        if M.render(v) ~= M.render(d) then changed[#changed + 1] = s.name end
      end
    end
  end
  local tail = experiment .. (config and ("/" .. config) or "")
  if #changed == 0 then return M.root .. "/results/" .. tail, "the committed defaults" end
  return M.root .. "/results/scratch/" .. tail,
    "not the committed run (--" .. table.concat(changed, ", --") .. "); --out DIR to choose"
end

-- --set KEY=VALUE texts into the model config (section "model") and fit's
-- options (section "train"), after the script's own config, so they win.
function M.apply_sets(vae, sets, model_config, fit_opts)
  for _, text in ipairs(sets or {}) do
    local tmp = {}
    local key, section = vae.config_set(tmp, text)
    if section == "model" then model_config[key] = tmp[key] else fit_opts[key] = tmp[key] end
  end
end

-- ---------- progress ----------

local function clock_text(s)
  s = math.max(0, math.floor(s + 0.5))
  return string.format("%d:%02d", s // 60, s % 60)
end
M.clock_text = clock_text

-- The progress display of a training run: on a terminal, a bar redrawn per
-- batch (at most 10 times a second) and a line per printed epoch; elsewhere a
-- line per printed epoch only. p = { vae=, label=, epochs=, rows= (training
-- rows), every= (print every N epochs; the last always), quiet= }.
-- Returns on_batch (nil off a terminal) and on_epoch for fit's options.
function M.progress(p)
  local vae, out = p.vae, io.stderr
  if p.quiet then return nil, nil end
  local tty = vae.isatty(2)
  local every = p.every or 1
  local run_start, epoch_start, last_draw = vae.clock(), 0, 0
  local function on_batch(b)
    local now = vae.clock()
    if b.step == 1 then epoch_start = now end
    if now - last_draw < 0.1 and b.step < b.steps then return end
    last_draw = now
    local rate = b.rows / math.max(now - epoch_start, 1e-9)
    local left = ((p.epochs - b.epoch) * p.rows + (p.rows - b.rows)) / rate
    local width = 24
    local filled = math.floor(width * b.step / b.steps)
    out:write(string.format("\r%s epoch %d/%d [%s%s] %d/%d  loss %.6g  %.0f rows/s  left %s \27[K",
      p.label, b.epoch, p.epochs, string.rep("#", filled), string.rep(".", width - filled),
      b.step, b.steps, b.loss, rate, clock_text(left)))
  end
  local function on_epoch(rec)
    if rec.epoch % every ~= 0 and rec.epoch ~= p.epochs then
      if tty then out:write("\r\27[K") end
      return
    end
    local val = rec.val_loss and string.format("  val %.6g (recon %.6g, kl %.6g)",
      rec.val_loss, rec.val_recon, rec.val_kl) or ""
    out:write(string.format("%s%s epoch %d/%d  train %.6g (recon %.6g, kl %.6g)%s  %.3g s  %.0f rows/s  elapsed %s\n",
      tty and "\r\27[K" or "", p.label, rec.epoch, p.epochs, rec.loss, rec.recon, rec.kl, val,
      rec.seconds, p.rows / math.max(rec.seconds, 1e-9), clock_text(vae.clock() - run_start)))
  end
  return tty and on_batch or nil, on_epoch
end

-- ---------- host facts ----------

function M.cpu_model()
  local f = io.open("/proc/cpuinfo")
  if not f then return "unknown" end
  for line in f:lines() do
    local m = line:match("^model name%s*:%s*(.-)%s*$")
    if m then f:close(); return m end
  end
  f:close()
  return "unknown"
end

-- The instruction-set flags the backends care about, of those the CPU has.
function M.cpu_flags()
  local f = io.open("/proc/cpuinfo")
  if not f then return "" end
  local flags = ""
  for line in f:lines() do
    local m = line:match("^flags%s*:%s*(.*)$")
    if m then flags = m; break end
  end
  f:close()
  local keep = {}
  for _, want in ipairs { "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16" } do
    if (" " .. flags .. " "):find(" " .. want .. " ", 1, true) then keep[#keep + 1] = want end
  end
  return table.concat(keep, " ")
end

function M.cores()
  return tonumber(capture("nproc")) or 1
end

-- Peak resident memory of this process so far (VmHWM), in MB, or nil.
function M.peak_rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  for line in f:lines() do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then f:close(); return tonumber(kb) / 1024 end
  end
  f:close()
  return nil
end

-- The short git revision, with " (dirty)" when tracked files differ from it.
local revision
function M.git_revision()
  if revision then return revision end
  local q = M.shell_quote(M.root)
  local rev = capture("git -C " .. q .. " rev-parse --short HEAD")
  if not rev then
    revision = "unknown"
  else
    local dirty = capture("git -C " .. q .. " status --porcelain --untracked-files=no")
    revision = rev .. ((dirty and dirty ~= "") and " (dirty)" or "")
  end
  return revision
end

-- ---------- config text ----------

-- A one-line, stable rendering of a config table (sorted keys; lists in order).
function M.render(v)
  if type(v) == "table" then
    if #v > 0 or next(v) == nil then
      local parts = {}
      for _, x in ipairs(v) do parts[#parts + 1] = M.render(x) end
      return "{" .. table.concat(parts, ",") .. "}"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. M.render(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  elseif type(v) == "string" then
    return '"' .. v .. '"'
  end
  return tostring(v)
end

return M
