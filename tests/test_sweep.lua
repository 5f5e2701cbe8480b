-- Tests of the sweep runner (experiments/sweep.lua) and the rank test
-- (stats.mann_whitney): grid expansion and job identities, resume, a failing
-- job, the merge's statistics against hand-computed values, the U test against
-- reference values, and bad sweep files rejected naming the file and key.
-- usage: lua tests/test_sweep.lua [path/to/vae.so]
local root = (arg[0]:match("^(.*)/tests/[^/]*$") or ".")
package.path = root .. "/experiments/lib/?.lua;" .. root .. "/experiments/?.lua;" .. root .. "/tests/?.lua;" .. package.path
local so = arg[1] or root .. "/vae.so"
package.loaded.vae = assert(package.loadlib(so, "luaopen_vae"))()
local tap = require "tap"
local test, raises = tap.test, tap.raises
local experiment = require "experiment"
local stats = require "stats"
local sweep = dofile(root .. "/experiments/sweep.lua")

local lua = os.getenv("LUA") or "lua5.4"
local q = experiment.shell_quote
local tmp = tap.tmpdir()

local write, read, sh = tap.write, tap.read, tap.sh

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-9) * math.max(1, math.abs(b)) end

-- a tiny s-curve sweep: 2 configs x 2 seeds of 5 epochs
local small = tmp .. "/small.lua"
write(small, [[
return {
  experiment = "scurve", seeds = { 3, 7 },
  options = { epochs = 5, ["no-charts"] = true },
  configs = { { name = "A", config = "A" }, { name = "H-wide", config = "H", hidden = "30,30" } },
  metrics = { "train_loss", "recon_mse", "spearman_abs" },
}]])

test("grid expansion: configuration-major order, seeds inner, labels, canonical text", function()
  local f = tmp .. "/grid.lua"
  write(f, [[
return {
  experiment = "scurve", seeds = 2,
  options = { epochs = 3 },
  grid = { { key = "config", values = { "A", "C" } },
           { key = "dropout", values = { 0, 0.5 }, labels = { "d0", "dhalf" } } },
}]])
  local s = sweep.load(f)
  assert(#s.configs == 4 and #s.jobs == 8, #s.jobs)
  local names = {}
  for i, c in ipairs(s.configs) do names[i] = c.name end
  assert(table.concat(names, " ") == "config=A,d0 config=A,dhalf config=C,d0 config=C,dhalf", table.concat(names, " "))
  assert(s.configs[2].text == "--config=A --epochs=3 --set=dropout=0.5", s.configs[2].text)
  for i, j in ipairs(s.jobs) do
    assert(j.index == i and j.seed == (i - 1) % 2 and j.config == s.configs[(i - 1) // 2 + 1], i)
  end
  assert(s.jobs[4].text == "--config=A --epochs=3 --set=dropout=0.5 --seed=1", s.jobs[4].text)
end)

test("job identities: FNV-1a of the canonical text, stable across loads, distinct", function()
  assert(sweep.short_id("") == "811c9dc5" and sweep.short_id("a") == "e40c292c", sweep.short_id("a"))
  local a, b = sweep.load(small), sweep.load(small)
  local seen = {}
  for i, j in ipairs(a.jobs) do
    assert(j.id == b.jobs[i].id and j.id:match("^%x%x%x%x%x%x%x%x$"), j.id)
    assert(j.id == sweep.short_id("scurve " .. j.text), j.id)
    assert(not seen[j.id], "id twice: " .. j.id)
    seen[j.id] = true
  end
  -- the id does not depend on where a config sits in the file
  local f = tmp .. "/reordered.lua"
  write(f, (read(small):gsub('{ name = "A", config = "A" }, ({ name = "H%-wide", config = "H", hidden = "30,30" })', '%1, { name = "A", config = "A" }')))
  local r = sweep.load(f)
  assert(r.configs[1].name == "H-wide" and r.jobs[1].id == a.jobs[3].id, r.jobs[1].id)
end)

test("--dry-run lists every job; --list and --slurm name every job", function()
  local code, out = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(tmp .. "/dry") .. " --dry-run")
  assert(code == 0 and out:find("2 configurations x 2 seeds = 4 jobs", 1, true), out)
  local s = sweep.load(small)
  for _, j in ipairs(s.jobs) do assert(out:find(j.id, 1, true), out) end
  code, out = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(tmp .. "/dry") .. " --list")
  local n = 0
  for line in out:gmatch("[^\n]+") do
    n = n + 1
    assert(line:find("--job " .. n .. "$") and line:find("^cd "), line)
  end
  assert(code == 0 and n == 4, out)
  code, out = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(tmp .. "/dry") .. " --slurm")
  local script = read(tmp .. "/dry/slurm.sh")
  assert(code == 0 and script and script:find("#SBATCH --array=1-4\n", 1, true)
    and script:find('--job "$SLURM_ARRAY_TASK_ID"', 1, true), out .. tostring(script))
end)

test("a run, then resume: finished jobs are skipped and keep their results", function()
  local out = tmp .. "/run"
  local cmd = q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(out) .. " --no-charts --jobs 2"
  local code, text = sh(cmd)
  assert(code == 0 and text:find("4 ok, 0 failed, 0 missing", 1, true), text)
  local s = sweep.load(small)
  local before = read(out .. "/jobs/" .. s.jobs[2].id .. "/done.tsv")
  assert(before and before:find("\tok\t", 1, true), before)
  code, text = sh(cmd)
  assert(code == 0 and text:find("4 jobs, 4 done, 0 to run", 1, true), text)
  assert(read(out .. "/jobs/" .. s.jobs[2].id .. "/done.tsv") == before, "done.tsv rewritten")
  -- a job removed is the only one run again
  os.remove(out .. "/jobs/" .. s.jobs[3].id .. "/done.tsv")
  code, text = sh(cmd)
  assert(code == 0 and text:find("4 jobs, 3 done, 1 to run", 1, true), text)
  -- --job on a finished job skips it
  code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(out) .. " --job 1")
  assert(code == 0 and text:find("skipped", 1, true), text)
  -- a lock held by a live process makes another runner leave the job alone
  local lock = out .. "/jobs/" .. s.jobs[1].id .. ".lock"
  experiment.mkdir(lock)
  write(lock .. "/owner", read("/proc/sys/kernel/hostname"):gsub("%s+$", "") .. " 1\n")
  code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(out) .. " --job 1 --force")
  assert(code == 0 and text:find("locked: held by", 1, true), text)
  -- a lock whose process is gone is taken over
  write(lock .. "/owner", read("/proc/sys/kernel/hostname"):gsub("%s+$", "") .. " 999999999\n")
  code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(out) .. " --job 1 --force")
  assert(code == 0 and text:find(": ok", 1, true) and not read(lock .. "/owner"), text)
end)

test("checkpoint_every: jobs checkpoint and resume through the script, same results, none left", function()
  local f = tmp .. "/ckpt.lua"
  write(f, [[
return {
  experiment = "scurve", seeds = { 3, 7 }, checkpoint_every = 2,
  options = { epochs = 5, ["no-charts"] = true },
  configs = { { name = "A", config = "A" }, { name = "H-wide", config = "H", hidden = "30,30" } },
  metrics = { "train_loss", "recon_mse", "spearman_abs" },
}]])
  local run = function(file, out)
    return sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(file) .. " --out " .. q(out) .. " --no-charts --jobs 2")
  end
  local code, text = run(f, tmp .. "/ckpt")
  assert(code == 0 and text:find("4 ok, 0 failed, 0 missing", 1, true), text)
  code, text = run(small, tmp .. "/plain")
  assert(code == 0, text)
  local s = sweep.load(f)
  for _, job in ipairs(s.jobs) do
    local dir = tmp .. "/ckpt/jobs/" .. job.id
    assert(not read(dir .. "/checkpoint.bin"), "a finished job removes its checkpoint")
    -- the same job without checkpoints has the same id (the runner's options are
    -- no overrides) and the same numbers
    local a = read(dir .. "/done.tsv"):match("\ntrain_loss.-\n") or ""
    local b = read(tmp .. "/plain/jobs/" .. job.id .. "/done.tsv")
    assert(b, "job " .. job.id .. " has the same identity without checkpoint_every")
    local function measures(t)
      local lines = {}
      for line in t:gmatch("[^\n]+") do if not line:find("^#") then lines[#lines + 1] = line end end
      local cols, vals = {}, {}
      for c in lines[1]:gmatch("[^\t]+") do cols[#cols + 1] = c end
      local i = 0
      for v in (lines[2] .. "\t"):gmatch("([^\t]*)\t") do i = i + 1; vals[cols[i]] = v end
      return vals
    end
    local ma, mb = measures(read(dir .. "/done.tsv")), measures(b)
    for _, k in ipairs { "train_loss", "val_loss", "recon_mse", "spearman_abs" } do
      assert(ma[k] and ma[k] == mb[k], k .. ": " .. tostring(ma[k]) .. " vs " .. tostring(mb[k]))
    end
    _ = a
  end
  write(tmp .. "/bad.lua", "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A' } }, checkpoint_every = 0 }")
  raises(function() sweep.load(tmp .. "/bad.lua") end, { "bad.lua", "field 'checkpoint_every'" })
  write(tmp .. "/bad.lua", "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', resume = true } } }")
  raises(function() sweep.load(tmp .. "/bad.lua") end, { "bad.lua", "key 'resume'", "set by the runner" })
end)

test("two runners on one tree: every job once ok, no temporaries or locks left", function()
  local out = tmp .. "/two"
  local cmd = q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --out " .. q(out) .. " --no-charts --jobs 2"
  local code, text = sh("(" .. cmd .. " > " .. q(tmp .. "/two1.log") .. " 2>&1 & " .. cmd .. " > " .. q(tmp .. "/two2.log") .. " 2>&1 & wait)")
  assert(code == 0, text)
  local rows = sweep.read_tsv(out .. "/summary.tsv")
  for i = 1, 4 do assert(rows[i].status == "ok", read(out .. "/summary.tsv")) end
  local _, left = sh("find " .. q(out) .. " -name '*.tmp-*' -o -name '*.lock'")
  assert(left == "", left)
  -- what one runner wrote is what one run writes
  local single = tmp .. "/run/configs.tsv"
  local function body(p) return (read(p) or ""):gsub("#[^\n]*\n", "") end
  if read(single) then assert(body(out .. "/configs.tsv") == body(single), "tables differ") end
end)

test("a failing job is recorded with its message; the others run; the merge reports it", function()
  local f = tmp .. "/failing.lua"
  write(f, [[
return {
  experiment = "scurve", seeds = 1,
  options = { epochs = 3, ["no-charts"] = true },
  configs = { { name = "ok1", config = "C" },
              { name = "bad", config = "A", output = "tanh" }, -- bernoulli needs a sigmoid output
              { name = "ok2", config = "D" } },
  metrics = { "train_loss" },
}]])
  local out = tmp .. "/failing"
  local code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(f) .. " --out " .. q(out) .. " --no-charts")
  assert(code == 1, "exit " .. tostring(code) .. ": " .. text)
  assert(text:find("2 ok, 1 failed, 0 missing", 1, true) and text:find("failed: job 2/3 [bad", 1, true)
    and text:find("output", 1, true), text)
  local rows = sweep.read_tsv(out .. "/summary.tsv")
  assert(rows[1].status == "ok" and rows[2].status == "failed" and rows[3].status == "ok", read(out .. "/summary.tsv"))
  assert(rows[2].message:find("sigmoid", 1, true), rows[2].message)
  -- --merge of a sweep with a job never run says which is missing
  os.execute("rm -rf " .. q(out .. "/jobs/" .. sweep.load(f).jobs[3].id))
  code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(f) .. " --out " .. q(out) .. " --merge --no-charts")
  assert(code == 1 and text:find("1 ok, 1 failed, 1 missing", 1, true) and text:find("missing: 1 jobs: 3 (ok2 seed 0)", 1, true), text)
end)

test("merge statistics against hand-computed values", function()
  local f = tmp .. "/fake.lua"
  write(f, [[
return { experiment = "scurve", seeds = 4, configs = { { name = "P", config = "A" }, { name = "Q", config = "B" } },
  metrics = { "m" } }]])
  local s = sweep.load(f)
  local out = tmp .. "/fake"
  -- P: 1, 2, 4, 7; Q: 10, 10, 13 and one failed
  local vals = { 1, 2, 4, 7, 10, 10, 13, nil }
  for i, j in ipairs(s.jobs) do
    experiment.mkdir(out .. "/jobs/" .. j.id)
    local status = vals[i] and "ok" or "failed"
    write(out .. "/jobs/" .. j.id .. "/done.tsv", "# fake\nindex\tid\tconfig\tseed\tstatus\tmessage\tm\n" ..
      table.concat({ i, j.id, j.config.name, j.seed, status, vals[i] and "" or "diverged", vals[i] or "" }, "\t") .. "\n")
  end
  local merged = sweep.merge(s, out, { no_charts = true })
  assert(merged.ok == 7 and #merged.failed == 1 and merged.failed[1].message == "diverged", merged.ok)
  local rows = sweep.read_tsv(out .. "/configs.tsv")
  -- P: mean 14/4 = 3.5; sd = sqrt(((2.5^2 + 1.5^2 + 0.5^2 + 3.5^2)) / 3) = sqrt(21/3) = sqrt(7)
  local p, qq = rows[1], rows[2]
  assert(p.config == "P" and p.n == "4" and p.failed == "0", read(out .. "/configs.tsv"))
  assert(close(tonumber(p.m_mean), 3.5, 1e-6) and close(tonumber(p.m_sd), math.sqrt(7), 1e-5), p.m_sd)
  assert(tonumber(p.m_median) == 3 and tonumber(p.m_min) == 1 and tonumber(p.m_max) == 7, p.m_median)
  -- Q: 10, 10, 13: mean 11, sd sqrt((1 + 1 + 4) / 2) = sqrt(3), median 10
  assert(qq.n == "3" and qq.failed == "1" and close(tonumber(qq.m_mean), 11, 1e-6), read(out .. "/configs.tsv"))
  assert(close(tonumber(qq.m_sd), math.sqrt(3), 1e-5) and tonumber(qq.m_median) == 10, qq.m_sd)
  local md = read(out .. "/table.md")
  assert(md:find("| P | 4 | 3.5 ± 2.6 |", 1, true) and md:find("| Q | 3 | 11 ± 1.7 |", 1, true), md)
  local srows = sweep.read_tsv(out .. "/summary.tsv")
  assert(#srows == 8 and srows[8].status == "failed" and srows[8].message == "diverged", #srows)
end)

test("Mann-Whitney U against reference values", function()
  -- SciPy's documented example (scipy.stats.mannwhitneyu): U = 17, exact two-sided p = 0.1111
  -- (= 2 * 7/126: 7 of the C(9,4) = 126 orderings have U >= 17)
  local r = stats.mann_whitney({ 19, 22, 16, 29, 24 }, { 20, 11, 17, 12 })
  assert(r.u == 17 and r.method == "exact" and close(r.p, 2 * 7 / 126, 1e-12), r.p)
  assert(close(stats.mann_whitney({ 19, 22, 16, 29, 24 }, { 20, 11, 17, 12 }, "greater").p, 7 / 126, 1e-12))
  assert(close(stats.mann_whitney({ 19, 22, 16, 29, 24 }, { 20, 11, 17, 12 }, "less").p, 1 - 4 / 126, 1e-12))
  -- complete separation, 3 vs 3: one ordering in C(6,3) = 20
  assert(close(stats.mann_whitney({ 4, 5, 6 }, { 1, 2, 3 }, "greater").p, 0.05, 1e-12))
  assert(close(stats.mann_whitney({ 4, 5, 6 }, { 1, 2, 3 }).p, 0.1, 1e-12))
  -- the exact distribution against brute-force enumeration (5 vs 4 without ties)
  local a, b = { 1.5, 3.2, 4.1, 8.0, 9.9 }, { 2.2, 5.5, 6.1, 7.3 }
  local all = { 1.5, 3.2, 4.1, 8.0, 9.9, 2.2, 5.5, 6.1, 7.3 }
  local u_obs = stats.mann_whitney(a, b).u
  local ge, total = 0, 0
  for mask = 0, 511 do
    local bits, pick = 0, {}
    for i = 0, 8 do if mask & (1 << i) ~= 0 then bits = bits + 1; pick[#pick + 1] = all[i + 1] end end
    if bits == 5 then
      local rest = {}
      for i = 0, 8 do if mask & (1 << i) == 0 then rest[#rest + 1] = all[i + 1] end end
      local u = 0
      for _, x in ipairs(pick) do for _, y in ipairs(rest) do if x > y then u = u + 1 end end end
      total = total + 1
      if u >= u_obs then ge = ge + 1 end
    end
  end
  assert(total == 126 and close(stats.mann_whitney(a, b, "greater").p, ge / total, 1e-12), ge)
  -- with ties: the normal approximation with the tie and continuity corrections,
  -- by hand: a = {1, 2, 2, 3}, b = {2, 3, 4, 5}; ranks 1, 3, 3, 3 | 3, 5.5, 5.5, 7, 8 ...
  -- pooled sorted: 1 2 2 2 3 3 4 5 -> ranks 1, 3, 3, 3, 5.5, 5.5, 7, 8
  -- R_a = 1 + 3 + 3 + 5.5 = 12.5, U_a = 12.5 - 10 = 2.5; ties: 3^3-3 + 2^3-2 = 30
  -- var = 16/12 * (9 - 30/56) = 11.2857; z = (|2.5 - 8| - 0.5) / 3.3594 = 1.48836
  -- p = 2 (1 - Phi(1.48836)) = 0.13665 (Phi(1.48836) = 0.93167 from the table)
  r = stats.mann_whitney({ 1, 2, 2, 3 }, { 2, 3, 4, 5 })
  assert(r.method == "normal" and r.u == 2.5 and close(r.z, 5 / math.sqrt(16 / 12 * (9 - 30 / 56)), 1e-12), r.z)
  assert(math.abs(r.p - 0.13665) < 2e-4, r.p)
  -- the sample sd
  assert(close(stats.sd({ 2, 4, 4, 4, 5, 5, 7, 9 }), math.sqrt(32 / 7), 1e-12) and stats.sd({ 3 }) == 0)
end)

test("bad sweep files and overrides are rejected naming the file and key", function()
  local cases = {
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', config = 'A', bogus = 1 } } }",
      { "bad.lua", "configs[1]", "key 'bogus'", "neither an option" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', config = 'Z' } } }",
      { "bad.lua", "key 'config'", "Z" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', dropout = 2 } } }",
      { "bad.lua", "key 'dropout'", "[0, 1)" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', set = { 'latentx=3' } } } }",
      { "bad.lua", "set[1]", "unknown config key 'latentx'" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', seed = 3 } } }",
      { "bad.lua", "key 'seed'", "set by the runner" } },
    { "return { experiment = 'nosuch', seeds = 2, configs = { { name = 'A' } } }",
      { "bad.lua", "field 'experiment'", "nosuch.lua" } },
    { "return { experiment = 'scurve', seeds = 0, configs = { { name = 'A' } } }",
      { "bad.lua", "field 'seeds'" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A' } }, colour = 'red' }",
      { "bad.lua", "unknown field 'colour'" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', config = 'A' }, { name = 'B', config = 'A' } } }",
      { "bad.lua", "'A' and 'B' have the same overrides" } },
    { "return { experiment = 'scurve', seeds = 2, grid = { { key = 'beta', values = { 1, -1 } } } }",
      { "bad.lua", "grid (beta=-1)", "key 'beta'" } },
    { "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A' } }", { "bad.lua" } }, -- syntax
  }
  for _, c in ipairs(cases) do
    write(tmp .. "/bad.lua", c[1])
    raises(function() sweep.load(tmp .. "/bad.lua") end, c[2])
  end
  raises(function() sweep.load(tmp .. "/missing.lua") end, { "missing.lua", "no such sweep file" })
  -- and from the command line: exit 2 with the message
  write(tmp .. "/bad.lua", "return { experiment = 'scurve', seeds = 2, configs = { { name = 'A', bogus = 1 } } }")
  local code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(tmp .. "/bad.lua") .. " --dry-run")
  assert(code == 2 and text:find("bad.lua", 1, true) and text:find("key 'bogus'", 1, true), text)
  code, text = sh(q(lua) .. " " .. q(root .. "/experiments/sweep.lua") .. " " .. q(small) .. " --job 9")
  assert(code == 2 and text:find("no job 9 (jobs are 1..4)", 1, true), text)
end)

test("the committed sweep files load: scurve 120 jobs, mnist 36", function()
  local s = sweep.load("scurve")
  assert(#s.jobs == 120 and #s.configs == 12, #s.jobs)
  local m = sweep.load("mnist")
  assert(#m.jobs == 36 and #m.configs == 12 and m.configs[1].name == "bern,KL,d0", #m.jobs)
end)

tap.finish()
