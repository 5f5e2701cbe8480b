-- Shared helpers for the experiment scripts: finding and loading the built
-- module, command-line options with --help, run metadata, directories.
local M = {}

-- The repository root, from this file's own path (scripts may run from anywhere).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
M.root = here .. "/../.."

function M.load_vae()
  package.cpath = M.root .. "/?.so;" .. package.cpath
  local ok, vae = pcall(require, "vae")
  if not ok then
    io.stderr:write("error: cannot load the vae module (", tostring(vae), ")\n",
                    "Build it first: run 'make' in ", M.root, "\n")
    os.exit(1)
  end
  return vae
end

-- Parses arg against spec = { {name=, default=, help=, check=function(v) -> value|nil, msg}, ... }.
-- "--name value" and "--name=value"; "--help" prints usage and exits 0.
function M.parse_args(args, usage, spec)
  local opts, byname = {}, {}
  for _, s in ipairs(spec) do
    byname[s.name] = s
    opts[s.name] = s.default
  end
  local function help(out)
    out:write(usage, "\n\nOptions:\n")
    for _, s in ipairs(spec) do
      local d = s.default ~= nil and (" (default: " .. tostring(s.default) .. ")") or ""
      out:write(string.format("  --%-14s %s%s\n", s.name .. (s.flag and "" or " V"), s.help, d))
    end
    out:write(string.format("  --%-14s %s\n", "help", "print this help"))
  end
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then help(io.stdout); os.exit(0) end
    local name, value = a:match("^%-%-([%w_-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w_-]+)$") end
    local s = name and byname[name]
    if not s then
      io.stderr:write("error: unknown argument '", a, "'\n")
      help(io.stderr)
      os.exit(2)
    end
    if s.flag then
      value = true
    elseif value == nil then
      i = i + 1
      value = args[i]
      if value == nil then
        io.stderr:write("error: --", name, " needs a value\n")
        os.exit(2)
      end
    end
    if s.check then
      local v, msg = s.check(value)
      if v == nil then
        io.stderr:write("error: --", name, ": ", msg, "\n")
        os.exit(2)
      end
      value = v
    end
    opts[name] = value
    i = i + 1
  end
  return opts
end

-- Option checkers.
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

function M.one_of(values)
  return function(v)
    for _, x in ipairs(values) do if x == v then return v end end
    return nil, "expected one of " .. table.concat(values, ", ") .. ", got '" .. tostring(v) .. "'"
  end
end

local function capture(cmd)
  local f = io.popen(cmd .. " 2>/dev/null")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

function M.git_revision()
  return capture("git -C '" .. M.root .. "' rev-parse --short HEAD") or "unknown"
end

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

function M.mkdir(dir)
  local ok = os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create directory " .. dir) end
end

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
