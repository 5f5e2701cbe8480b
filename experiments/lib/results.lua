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
--   experiment, config, seed, backend, threads, epochs,
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

-- Writes parts (a list of strings) to path atomically. Raises naming the file.
function M.write_file(path, parts, binary)
  local tmp = M.temp_name(path)
  local f, err = M.open(tmp, binary and "wb" or "w")
  if not f then error("cannot write " .. experiment.display(path) .. ": " .. tostring(err), 0) end
  local ok = true
  for _, p in ipairs(parts) do
    local r, e = f:write(p)
    if not r then ok, err = false, e; break end
  end
  local closed, cerr = f:close()
  if ok and not closed then ok, err = false, cerr end
  if ok then
    if M.manifest_dir then -- from here on the folder is no longer the old run's whole set
      os.remove(M.manifest_dir .. "/MANIFEST")
      M.manifest_dir = nil
    end
    local renamed, rerr = os.rename(tmp, path)
    if not renamed then ok, err = false, rerr end
  end
  if not ok then
    os.remove(tmp)
    error("cannot write " .. experiment.display(path) .. ": " .. tostring(err), 0)
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

-- ---------- a run's folder: locked while written, MANIFEST last ----------
-- begin_run(dir) (before training): takes dir/.lock (mkdir is atomic; a lock
-- whose process is gone, or is this one, is taken over) so a second live run
-- into dir is refused; the old MANIFEST is removed just before this run
-- replaces its first file (a run that fails before keeps it). finish_run(dir) writes
-- MANIFEST (every file of this run and its size) last and drops the lock: a
-- folder without MANIFEST holds an unfinished or killed run, never a mixed set
-- that looks whole.
local function alive(p)
  local f = io.open("/proc/" .. p .. "/stat")
  if f then f:close() end
  return f ~= nil
end

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
  M.run_started = #M.written + 1
  M.manifest_dir = dir -- the old MANIFEST goes when this run replaces its first file
end

function M.finish_run(dir)
  local lines, seen = { "# the files of this run, written last: a folder without MANIFEST is unfinished\n",
    "file\tbytes\n" }, {}
  for i = M.run_started or 1, #M.written do
    local path = M.written[i]
    local name = path:sub(1, #dir + 1) == dir .. "/" and path:sub(#dir + 2)
    if name and not name:find("^%.lock/") and not seen[name] then
      seen[name] = true
      local f = io.open(path, "rb")
      local size = f and f:seek("end")
      if f then f:close() end
      lines[#lines + 1] = name .. "\t" .. tostring(size) .. "\n"
    end
  end
  M.write_file(dir .. "/MANIFEST", lines)
  os.remove(dir .. "/.lock/pid")
  os.remove(dir .. "/.lock")
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

M.summary_head = { "experiment", "config", "seed", "backend", "threads", "epochs",
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
function M.write_summary(path, meta, summary, own)
  local cols = M.summary_columns(own)
  local row = {}
  for i, c in ipairs(cols) do row[i] = summary[c] end
  M.write_tsv(path, meta, cols, { row })
end

return M
