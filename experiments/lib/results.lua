-- Result files. Every file a script writes goes through write_file: a unique
-- temporary in the same folder, every write and the close checked, then one
-- rename, so a reader never sees half a file and a failure leaves the old one.
-- Text files start with a '#' header (experiment, config, backend, seed, ...,
-- date, git revision, host); byte files (.u8 image grids) cannot carry one.
--
-- The ONE column vocabulary of history.tsv (a row per epoch), the same in
-- every experiment:
--   epoch, train_loss, train_recon, train_kl, kl_weight,
--   val_loss, val_recon, val_kl (empty where not validated), seconds
-- and of summary.tsv (one row):
--   experiment, config, seed, backend, precision, threads, epochs,
--   train_loss, val_loss, val_recon, val_kl (the final ones), then the
--   experiment's own measures, then seconds_per_epoch (median), train_seconds,
--   wall_seconds, peak_rss_mb.
-- Losses are per example (`# loss:` says in what unit); "val" is the set the
-- run validates on (`# validation:` says which: the training set for the
-- s-curve, the test images for MNIST).
local experiment = require "experiment"
local stats = require "stats"
local M = {}

local function process_id()
  local f = io.open("/proc/self/stat")
  local pid = f and f:read("n")
  if f then f:close() end
  return math.tointeger(pid) or 0
end
local pid, counter = process_id(), 0

-- A fresh temporary name next to path: path.tmp-<pid>-<counter>.
function M.temp_name(path)
  counter = counter + 1
  return string.format("%s.tmp-%d-%d", path, pid, counter)
end

M.open = io.open -- replaced by the tests to make writes fail

local active -- { dir =, stage = } of the run being written (begin_run)

-- A path as messages show it: a file in the staging folder by its final name.
local function shown(path)
  if active and path:sub(1, #active.stage + 1) == active.stage .. "/" then
    path = active.dir .. path:sub(#active.stage + 1)
  end
  return experiment.display(path)
end

-- Writes parts (a list of strings) to path atomically. Raises naming the file.
function M.write_file(path, parts, binary)
  local tmp = M.temp_name(path)
  local f, err = M.open(tmp, binary and "wb" or "w")
  if not f then error("cannot write " .. shown(path) .. ": " .. tostring(err), 0) end
  local ok = true
  for _, p in ipairs(parts) do
    local r, e = f:write(p)
    if not r then ok, err = false, e; break end
  end
  local closed, cerr = f:close()
  if ok and not closed then ok, err = false, cerr end
  if ok then
    local renamed, rerr = os.rename(tmp, path)
    if not renamed then ok, err = false, rerr end
  end
  if not ok then
    os.remove(tmp)
    error("cannot write " .. shown(path) .. ": " .. tostring(err), 0)
  end
end

-- meta: { experiment=, config=, backend=, seed=, ... } (the rest written sorted
-- after the fixed ones). Returns the '#' lines, newline-terminated.
function M.header(meta)
  local lines = {}
  local fixed = { "experiment", "config", "backend", "seed" }
  local done = {}
  for _, k in ipairs(fixed) do
    if meta[k] ~= nil then
      lines[#lines + 1] = "# " .. k .. ": " .. tostring(meta[k])
      done[k] = true
    end
  end
  local rest = {}
  for k in pairs(meta) do if not done[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do lines[#lines + 1] = "# " .. k .. ": " .. tostring(meta[k]) end
  lines[#lines + 1] = "# date: " .. os.date("!%Y-%m-%dT%H:%M:%SZ")
  lines[#lines + 1] = "# git revision: " .. experiment.git_revision()
  lines[#lines + 1] = "# cpu: " .. experiment.cpu_model()
  lines[#lines + 1] = string.format("# host: %d cores; flags %s", experiment.cores(), experiment.cpu_flags())
  return table.concat(lines, "\n") .. "\n"
end

local function fmt(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.6g", v)
  end
  if v == nil then return "" end
  return tostring(v)
end
M.fmt = fmt

-- ---------- a run's folder: whole or not at all ----------
-- begin_run(dir) (before training) takes dir/.lock (mkdir is atomic; a lock
-- whose process is gone, or is this one, is taken over), so a second live run
-- into dir is refused, and returns a fresh staging folder beside dir
-- (.NAME.stage-PID) that the run writes into. finish_run(stage, dir) writes
-- MANIFEST (every file and its size) into it, carries over the files of dir
-- this run did not write (a user's, a checkpoint), and swaps it into place
-- with two renames; the old folder is removed. A run that fails or is killed
-- leaves dir as it was (abort_run, or the next begin_run, removes its stage).
local function alive(p) -- a zombie (killed, not yet reaped) is not
  local f = io.open("/proc/" .. p .. "/stat")
  if not f then return false end
  local state = f:read("a"):match("%) (%a)")
  f:close()
  return state ~= "Z" and state ~= "X"
end

local function split(dir)
  local parent, base = dir:match("^(.*)/([^/]+)$")
  if not parent then return ".", dir end
  return parent == "" and "/" or parent, base
end

local function list(dir)
  local names = {}
  local p = io.popen("ls -A -- " .. experiment.shell_quote(dir) .. " 2>/dev/null")
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  return names
end

local function rm_rf(path) os.execute("rm -rf -- " .. experiment.shell_quote(path)) end


function M.begin_run(dir)
  experiment.mkdir(dir)
  local lock = dir .. "/.lock"
  local made = os.execute("mkdir -- " .. experiment.shell_quote(lock) .. " 2>/dev/null")
  if made ~= true and made ~= 0 then
    local f = io.open(lock .. "/pid")
    local other = f and math.tointeger(f:read("n"))
    if f then f:close() end
    if other and other ~= pid and alive(other) then
      error("another run (pid " .. other .. ") is writing " .. experiment.display(dir)
        .. "; wait for it or choose another --out", 0)
    end
  end
  M.write_file(lock .. "/pid", { tostring(pid), "\n" })
  local parent, base = split(dir)
  -- what killed runs left: their stages and old folders, temporaries in dir
  for _, name in ipairs(list(parent)) do
    local owner = name:sub(1, #base + 2) == "." .. base .. "." and
      math.tointeger(tonumber(name:match("^%." .. base:gsub("%p", "%%%0") .. "%.[a-z]+%-(%d+)$")))
    if owner and (owner == pid or not alive(owner)) then rm_rf(parent .. "/" .. name) end
  end
  for _, name in ipairs(list(dir)) do
    local owner = math.tointeger(tonumber(name:match("%.tmp%-(%d+)%-%d+$")))
    if owner and owner ~= pid and not alive(owner) then os.remove(dir .. "/" .. name) end
  end
  local stage = parent .. "/." .. base .. ".stage-" .. pid
  experiment.mkdir(stage)
  active = { dir = dir, stage = stage }
  M.run_started = #M.written + 1
  return stage
end

function M.finish_run(stage, dir)
  local lines, seen = { "# the files of this run, written last\n", "file\tbytes\n" }, {}
  for i = M.run_started or 1, #M.written do
    local path = M.written[i]
    local name = path:sub(1, #stage + 1) == stage .. "/" and path:sub(#stage + 2)
    if name and not seen[name] then
      seen[name] = true
      local f = io.open(path, "rb")
      local size = f and f:seek("end")
      if f then f:close() end
      lines[#lines + 1] = name .. "\t" .. tostring(size) .. "\n"
    end
  end
  M.write_file(stage .. "/MANIFEST", lines)
  for _, name in ipairs(list(dir)) do
    if name ~= ".lock" and not io.open(stage .. "/" .. name) then
      os.rename(dir .. "/" .. name, stage .. "/" .. name)
    end
  end
  local parent, base = split(dir)
  local old = parent .. "/." .. base .. ".old-" .. pid
  local ok, err = os.rename(dir, old)
  if ok then ok, err = os.rename(stage, dir) end
  if not ok then error("cannot move the results into " .. experiment.display(dir) .. ": " .. tostring(err), 0) end
  rm_rf(old) -- with the lock
  active = nil
end

-- After a failed run: its stage goes, the lock is dropped, dir is untouched.
function M.abort_run()
  if not active then return end
  rm_rf(active.stage)
  os.remove(active.dir .. "/.lock/pid")
  os.remove(active.dir .. "/.lock")
  active = nil
end

-- The files written so far by this process, in order (scripts report them).
M.written = {}

local function record(path)
  M.written[#M.written + 1] = path
end

-- Writes columns (a list of names) and rows (lists of values) to path.
function M.write_tsv(path, meta, columns, rows)
  local parts = { meta and M.header(meta) or "", table.concat(columns, "\t"), "\n" }
  for _, row in ipairs(rows) do
    local cells = {}
    for i = 1, #columns do cells[i] = fmt(row[i]) end
    parts[#parts + 1] = table.concat(cells, "\t") .. "\n"
  end
  M.write_file(path, parts)
  record(path)
end

-- A text file (a gnuplot script, a .dat table) with the '#' header first.
function M.write_text(path, meta, text)
  M.write_file(path, { meta and M.header(meta) or "", text })
  record(path)
end

-- Raw bytes (no header: a binary file cannot carry one).
function M.write_bytes(path, parts)
  M.write_file(path, parts, true)
  record(path)
end

M.history_columns = { "epoch", "train_loss", "train_recon", "train_kl", "kl_weight",
  "val_loss", "val_recon", "val_kl", "seconds" }

-- history.tsv from fit's records (epoch, loss, recon, kl, kl_weight, seconds,
-- and val_loss, val_recon, val_kl when validated).
function M.write_history(path, meta, history)
  local rows = {}
  for i, r in ipairs(history) do
    rows[i] = { r.epoch, r.loss, r.recon, r.kl, r.kl_weight, r.val_loss, r.val_recon, r.val_kl, r.seconds }
  end
  M.write_tsv(path, meta, M.history_columns, rows)
end

M.summary_head = { "experiment", "config", "seed", "backend", "precision", "threads", "epochs",
  "train_loss", "val_loss", "val_recon", "val_kl" }
M.summary_tail = { "seconds_per_epoch", "train_seconds", "wall_seconds", "peak_rss_mb" }

-- The column list of a summary: the shared head, the experiment's own
-- measures (a list of names), the shared tail.
function M.summary_columns(own)
  local cols = {}
  for _, c in ipairs(M.summary_head) do cols[#cols + 1] = c end
  for _, c in ipairs(own or {}) do cols[#cols + 1] = c end
  for _, c in ipairs(M.summary_tail) do cols[#cols + 1] = c end
  return cols
end

-- The timing part of a summary from fit's history: the median epoch (the
-- figure to quote: the first epoch warms caches) and the sum.
function M.timing(history)
  local secs, total = {}, 0
  for i, r in ipairs(history) do
    secs[i] = r.seconds
    total = total + r.seconds
  end
  return stats.median(secs), total
end

-- summary.tsv: one row of summary (a table keyed by column name) in the
-- columns of summary_columns(own).
-- The precision column, when the summary leaves it out, is the one in the
-- model's config text (meta.model), so no summary can omit what ran.
function M.write_summary(path, meta, summary, own)
  local cols = M.summary_columns(own)
  if summary.precision == nil then
    summary.precision = meta.model and meta.model:match("precision=(%S+)")
      or error("write_summary: no precision in the summary nor a model config text in meta", 2)
  end
  local row = {}
  for i, c in ipairs(cols) do row[i] = summary[c] end
  M.write_tsv(path, meta, cols, { row })
end

return M
