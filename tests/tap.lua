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

function M.finish()
  if tmp then os.execute("rm -rf '" .. tmp .. "'") end
  print(string.format("%d passed, %d failed", M.passed, M.failed))
  os.exit(M.failed == 0 and 0 or 1)
end

return M
