-- Result tables: TSV files with a header of '#' comment lines (experiment,
-- config, backend, seed, date, git revision, CPU) then a column header row.
local common = require "common"
local M = {}

-- meta: { experiment=, config=, backend=, seed=, ... } (written sorted after the fixed ones)
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
  lines[#lines + 1] = "# git revision: " .. common.git_revision()
  lines[#lines + 1] = "# cpu: " .. common.cpu_model()
  return table.concat(lines, "\n") .. "\n"
end

local function fmt(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.6g", v)
  end
  return tostring(v)
end

-- Writes columns (a list of names) and rows (lists of values) to path.
-- Writes to a temporary file first, so a failure never leaves half a table.
function M.write_tsv(path, meta, columns, rows)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then error("cannot write " .. path .. ": " .. err) end
  if meta then f:write(M.header(meta)) end
  f:write(table.concat(columns, "\t"), "\n")
  for _, row in ipairs(rows) do
    local cells = {}
    for i = 1, #columns do cells[i] = fmt(row[i]) end
    f:write(table.concat(cells, "\t"), "\n")
  end
  f:close()
  assert(os.rename(tmp, path))
end

-- A bare numeric matrix (for gnuplot's `matrix` image input), no header.
function M.write_matrix(path, rows)
  local f, err = io.open(path, "w")
  if not f then error("cannot write " .. path .. ": " .. err) end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(row) do cells[i] = fmt(v) end
    f:write(table.concat(cells, "\t"), "\n")
  end
  f:close()
end

return M
