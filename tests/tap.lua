-- The Lua test suites' runner: test(name, fn) prints "ok - name" or "not ok -
-- name" with the error; finish() prints "N passed, N failed" and exits with
-- the matching status. raises(fn, wants) asserts that fn raises an error
-- mentioning every string in wants. tmpdir() is one temporary folder per
-- suite (made on first use with mktemp -d, removed by finish()): os.tmpname()
-- leaves a file behind for every call.
local M = { passed = 0, failed = 0 }

local tmp
function M.tmpdir()
  if not tmp then
    local p = assert(io.popen("mktemp -d"))
    tmp = p:read("l")
    p:close()
    assert(tmp and tmp:match("^/"), "mktemp -d failed")
  end
  return tmp
end

function M.test(name, fn)
  local ok, err = pcall(fn)
  if ok then
    M.passed = M.passed + 1
    print("ok - " .. name)
  else
    M.failed = M.failed + 1
    print("not ok - " .. name)
    print("#   " .. tostring(err))
  end
end

function M.raises(fn, wants)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error, got none")
  err = tostring(err)
  for _, w in ipairs(wants) do
    assert(err:find(w, 1, true), string.format("error %q does not mention %q", err, w))
  end
end

-- Files and commands for the suites: write(path, text) (raises on failure);
-- read(path) -> contents, or nil when missing; sh(cmd) -> exit status, output
-- (stdout and stderr together).
function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local text = f:read("a")
  local _, _, code = f:close()
  return code, text
end

function M.finish()
  if tmp then os.execute("rm -rf '" .. tmp .. "'") end
  print(string.format("%d passed, %d failed", M.passed, M.failed))
  os.exit(M.failed == 0 and 0 or 1)
end

return M
