-- Tests of the experiment scaffolding (experiments/lib) and the scripts as a
-- sweep runner uses them: the atomic writer, shell quoting of chart folders,
-- run(opts) in-process, default output folders, option errors and --help.
-- usage: lua tests/test_experiments.lua [path/to/vae.so]
local root = (arg[0]:match("^(.*)/tests/[^/]*$") or ".")
package.path = root .. "/experiments/lib/?.lua;" .. root .. "/tests/?.lua;" .. package.path
local so = arg[1] or root .. "/vae.so"
package.loaded.vae = assert(package.loadlib(so, "luaopen_vae"))()
local vae = package.loaded.vae
local tap = require "tap"
local test, raises = tap.test, tap.raises
local experiment = require "experiment"
local results = require "results"
local stats = require "stats"
local plot = require "plot"

local lua = os.getenv("LUA") or "lua5.4"
local q = experiment.shell_quote

local read = tap.read

local function listing(dir)
  local f = assert(io.popen("ls -A " .. q(dir)))
  local names = {}
  for l in f:lines() do names[#names + 1] = l end
  f:close()
  return names
end

local scratch = os.tmpname()
os.remove(scratch)
experiment.mkdir(scratch)

-- runs a shell command; returns its exit status and its output (stdout + stderr)
-- with every run of white space made one space
local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local text = f:read("a")
  local _, _, code = f:close()
  return code, (text:gsub("%s+", " "))
end

-- plain-text search (option names have '-' in them)
local function has(text, word) return text:find(word, 1, true) ~= nil end

test("atomic writer: content, header, unique temporaries, bytes without header", function()
  local path = scratch .. "/t.tsv"
  results.write_tsv(path, { experiment = "test", seed = 3 }, { "a", "b" }, { { 1, 0.5 }, { 2 } })
  local s = read(path)
  assert(s:find("^# experiment: test\n# seed: 3\n") and s:find("\na\tb\n1\t0.5\n2\t\n$"), s)
  assert(s:find("# git revision: ") and s:find("# host: %d+ cores"), s)
  local a, b = results.temp_name(path), results.temp_name(path)
  assert(a ~= b and a:find(path, 1, true) == 1 and a:find("%.tmp%-%d+%-%d+$"), a .. " " .. b)
  results.write_bytes(scratch .. "/g.u8", { "\0\1", "\255" })
  assert(read(scratch .. "/g.u8") == "\0\1\255")
  results.write_text(scratch .. "/c.gp", { experiment = "test" }, "plot x\n")
  assert(read(scratch .. "/c.gp"):find("^# experiment: test\n.*plot x\n$"))
end)

test("atomic writer: a failing write or close leaves the old file and no temporary", function()
  local path = scratch .. "/keep.tsv"
  results.write_file(path, { "old\n" })
  for _, failing in ipairs { "write", "close" } do
    results.open = function(name, mode)
      local f = assert(io.open(name, mode))
      return {
        write = function(_, s)
          if failing == "write" then return nil, "No space left on device" end
          return f:write(s)
        end,
        close = function()
          f:close()
          if failing == "close" then return nil, "Input/output error" end
          return true
        end,
      }
    end
    local ok, err = pcall(results.write_file, path, { "new\n", "more\n" })
    results.open = io.open
    assert(not ok and err:find("keep.tsv", 1, true)
      and err:find(failing == "write" and "No space" or "Input/output", 1, true), tostring(err))
    assert(read(path) == "old\n", failing .. ": the old file is kept")
  end
  -- the rename fails: the target is a folder
  experiment.mkdir(scratch .. "/adir")
  local ok, err = pcall(results.write_file, scratch .. "/adir", { "x" })
  assert(not ok and err:find("adir", 1, true), tostring(err))
  for _, name in ipairs(listing(scratch)) do assert(not name:find("tmp"), "temporary left: " .. name) end
  -- a folder that does not exist: the message names the file
  ok, err = pcall(results.write_file, scratch .. "/no/such/f.tsv", { "x" })
  assert(not ok and err:find("no/such/f.tsv", 1, true), tostring(err))
end)

test("paths: normalised, shell quoting survives ' and spaces", function()
  assert(experiment.normpath("experiments/lib/../../data/mnist") == "data/mnist")
  assert(experiment.normpath("/a/./b//c/../d") == "/a/b/d")
  assert(experiment.normpath("a/..") == "." and experiment.normpath("../x") == "../x")
  assert(not experiment.root:find("%.%.") and read(experiment.root .. "/Makefile"), experiment.root)
  assert(experiment.display(experiment.cwd .. "/x/../y") == "y")
  local odd = "it's a \"dir\" $HOME `x`"
  local code, text = sh("printf '%s' " .. q(odd))
  assert(code == 0 and text == odd, text)
  assert(plot.quote('a"b\\c') == '"a\\"b\\\\c"')
end)

test("stats: median, quantiles, normal quantile, Spearman", function()
  local v = { 5, 1, 4, 2, 3 }
  assert(stats.median(v) == 3 and v[1] == 5, "the list is not sorted in place")
  assert(stats.median { 4, 1, 3, 2 } == 2.5)
  assert(stats.quantile({ 1, 2, 3, 4, 5 }, 0.25) == 2 and stats.quantile({ 1, 2 }, 1) == 2)
  assert(math.abs(stats.normal_quantile(0.975) - 1.959964) < 1e-5)
  assert(math.abs(stats.normal_quantile(0.5)) < 1e-9)
  assert(stats.spearman({ 1, 2, 3, 4 }, { 10, 20, 25, 100 }) == 1)
  assert(stats.spearman({ 1, 2, 3 }, { 3, 2, 1 }) == -1)
end)

test("--set routes model keys to the model config and train keys to fit's options, after the script's", function()
  -- a stand-in for vae.config_set with two keys, one per section
  local fake = { config_set = function(tbl, text)
    local key, value = text:match("^([%w_]+)=(.*)$")
    if key == "latent" then tbl.latent = assert(math.tointeger(tonumber(value)), "latent: expected an integer"); return key, "model" end
    if key == "lr" then tbl.lr = assert(tonumber(value), "lr: expected a number"); return key, "train" end
    error("unknown config key '" .. tostring(key) .. "'", 0)
  end }
  local model, fit = { latent = 1, hidden = { 4 } }, { lr = 1e-3, epochs = 2 }
  experiment.apply_sets(fake, { "latent=3", "lr=0.5" }, model, fit)
  assert(model.latent == 3 and fit.lr == 0.5 and fit.epochs == 2 and model.hidden[1] == 4 and not model.lr)
  local check = experiment.config_checker(fake)
  assert(check("lr=2") == "lr=2")
  local v, msg = check("widths=3")
  assert(v == nil and msg:find("widths", 1, true), tostring(msg))
end)

local scurve = dofile(root .. "/experiments/scurve.lua")
local bench = dofile(root .. "/experiments/bench.lua")

test("default output folders: results/<experiment>/<config>/ only for the committed defaults", function()
  local function dir(script, opts, ...) return (experiment.output_dir(script.spec, experiment.check_options(script.spec, opts), ...)) end
  local r = experiment.root
  assert(dir(scurve, {}, "scurve", "A") == r .. "/results/scurve/A")
  assert(dir(scurve, { quiet = true, ["no-charts"] = true }, "scurve", "H") == r .. "/results/scurve/H")
  assert(dir(scurve, { epochs = 3 }, "scurve", "A") == r .. "/results/scratch/scurve/A")
  assert(dir(scurve, { seed = 2 }, "scurve", "A") == r .. "/results/scratch/scurve/A")
  assert(dir(scurve, { out = "x/../y" }, "scurve", "A") == "y")
  -- bench: the full default run only; --quick (make bench QUICK=1) goes to scratch
  assert(dir(bench, {}, "bench") == r .. "/results/bench")
  assert(dir(bench, { backends = table.concat((function()
    local n = {} for _, b in ipairs(vae.backends()) do n[#n + 1] = b.name end return n end)(), ",") }, "bench")
    == r .. "/results/bench", "the default backends spelt out are still the default")
  assert(dir(bench, { quick = true }, "bench") == r .. "/results/scratch/bench")
  assert(dir(bench, { threads = 1, repeats = 2 }, "bench") == r .. "/results/scratch/bench")
  -- lower-case config names; bad options raise naming the option
  assert(experiment.check_options(scurve.spec, { config = "h" }).config == "H")
  raises(function() experiment.check_options(scurve.spec, { config = "Z" }) end, { "--config", "A, B" })
  raises(function() experiment.check_options(scurve.spec, { epochs = 0 }) end, { "--epochs", ">= 1" })
  raises(function() experiment.check_options(scurve.spec, { epoch = 3 }) end, { "unknown option 'epoch'" })
end)

local has_gnuplot = plot.available()

test("scurve run(opts) in-process returns its summary; an out folder with ' and a space gets its charts", function()
  local out = scratch .. "/it's a folder"
  local s = assert(scurve.run { config = "c", epochs = 3, out = out, quiet = true })
  assert(s.experiment == "scurve" and s.config == "C" and s.epochs == 3 and s.out == out)
  assert(s.train_loss == s.train_loss and s.val_loss and s.recon_mse and s.spearman_abs, "measures")
  local h = read(out .. "/history.tsv")
  assert(h:find("\nepoch\ttrain_loss\ttrain_recon\ttrain_kl\tkl_weight\tval_loss\tval_recon\tval_kl\tseconds\n", 1, true), h)
  assert(select(2, h:gsub("\n%d+\t", "")) == 3, "three epochs")
  local sm = read(out .. "/summary.tsv")
  assert(sm:find("\nexperiment\tconfig\tseed\tbackend\tprecision\tthreads\tepochs\ttrain_loss\tval_loss", 1, true), sm)
  for _, chart in ipairs { "loss", "embedding", "full_embedding", "prediction", "inout" } do
    assert(read(out .. "/" .. chart .. ".gp"):find("^# experiment: scurve"), chart .. ".gp with a header")
    if has_gnuplot then assert(read(out .. "/" .. chart .. ".png"), chart .. ".png") end
  end
  -- the decoded line covers the encoder means' range, not [-1, 1]
  local p = read(out .. "/prediction.tsv")
  assert(p:find("\nz1\tx0\tx1\n", 1, true), p:sub(1, 200))
  -- the same seed gives the same numbers
  local s2 = assert(scurve.run { config = "C", epochs = 3, out = out, quiet = true })
  assert(s2.train_loss == s.train_loss and s2.recon_mse == s.recon_mse)
  -- a failure inside run raises (no exit), naming the folder
  raises(function() scurve.run { epochs = 1, out = scratch .. "/keep.tsv/x", quiet = true } end, { "keep.tsv/x" })
end)

test("scurve on the command line: exit status 2 for bad options, --help, where files went, --epochs 1", function()
  local script = q(root .. "/experiments/scurve.lua")
  local code, text = sh(lua .. " " .. script .. " --config Z")
  assert(code == 2 and text:find("--config", 1, true) and has(text, "A, B, C"), code .. text)
  code, text = sh(lua .. " " .. script .. " --epochs")
  assert(code == 2 and has(text, "needs a value"), text)
  code, text = sh(lua .. " " .. script .. " --bogus")
  assert(code == 2 and text:find("unknown argument '--bogus'", 1, true), text)
  code, text = sh(lua .. " " .. script .. " --help")
  assert(code == 0 and has(text, "--backend") and has(text, "--set") and has(text, "Keras s-curve ablation notebook")
    and not has(text, "seed 004"), text)
  local out = scratch .. "/one epoch"
  code, text = sh(lua .. " " .. script .. " --epochs 1 --out " .. q(out))
  assert(code == 0 and text:find("wrote " .. out .. "/", 1, true), text)
  assert(not has(text:lower(), "warning"), "no gnuplot warning for one epoch: " .. text)
  -- a run that cannot write its folder fails with status 1 and names it
  code, text = sh(lua .. " " .. script .. " --epochs 1 --no-charts --quiet --out " .. q(scratch .. "/keep.tsv/x"))
  assert(code == 1 and text:find("keep.tsv/x", 1, true), code .. text)
end)

test("mnist and bench: --help names the references; bad options exit 2", function()
  local code, text = sh(lua .. " " .. q(root .. "/experiments/mnist.lua") .. " --help")
  assert(code == 0 and has(text, "ADCME VAE tutorial") and has(text, "Pyro VAE tutorial")
    and has(text, "Keras VAE example") and not has(text, "seed 00"), text)
  code, text = sh(lua .. " " .. q(root .. "/experiments/mnist.lua") .. " --config nope")
  assert(code == 2 and text:find("--config", 1, true) and has(text, "classic"), text)
  code, text = sh(lua .. " " .. q(root .. "/experiments/bench.lua") .. " --backends nope")
  assert(code == 2 and has(text, "nope"), text)
  code, text = sh(lua .. " " .. q(root .. "/experiments/bench.lua") .. " --help")
  assert(code == 0 and has(text, "results/scratch/bench"), text)
end)

local factor = dofile(root .. "/experiments/factor.lua")

test("vae.data.factor: reproducible per seed, its truth, strict options", function()
  local a, b = vae.data.factor { n = 30, p = 7, seed = 3 }, vae.data.factor { n = 30, p = 7, seed = 3 }
  local c = vae.data.factor { n = 30, p = 7, seed = 4 }
  assert(a.x:rows() == 30 and a.x:cols() == 7 and a.z:cols() == 1 and a.sigma:cols() == 7)
  local same, other = true, false
  for i = 1, 30 do
    for j = 1, 7 do
      same = same and a.x:get(i, j) == b.x:get(i, j)
      other = other or a.x:get(i, j) ~= c.x:get(i, j)
    end
  end
  assert(same and other, "same seed same data, another seed other data")
  assert(a.g(2, 0.3) == b.g(2, 0.3) and math.type(a.g(1, 0)) == "float")
  for j = 1, 7 do
    local s = a.sigma:get(1, j)
    assert(s >= 0.1 and s <= 0.5, "sigma in [0.1, 0.5]: " .. s)
  end
  raises(function() vae.data.factor { n = 10, q = 3 } end, { "'q'" })
  raises(function() a.g(8, 0) end, { "out of range" })
end)

test("factor model configs: a zero-width head stack and a bad noise model name their key", function()
  raises(function() vae.model { input = 4, latent = 1, output = "linear", likelihood = "gaussian_logvar_mean", decoder_var_hidden = { 0 } } end,
    { "decoder_var_hidden" })
  raises(function() vae.model { input = 4, latent = 1, output = "linear", mean_hidden = "3,0" } end, { "mean_hidden" })
  raises(function() vae.model { input = 4, latent = 1, output = "linear", likelihood = "gaussian", noise_per_feature = true } end,
    { "noise_per_feature", "gaussian_learned" })
  raises(function() experiment.check_options(factor.spec, { variance = "diagonal" }) end, { "--variance", "per-example" })
  local m = vae.model { input = 4, latent = 1, output = "linear", likelihood = "gaussian_learned", noise_per_feature = true, noise_var = 0.5 }
  local v = m:info().noise_vars
  assert(#v == 4 and math.abs(v[4] - 0.5) < 1e-6 and m:info().noise_var == nil)
  m:close()
end)

-- measured (n 100, p 20, 30 epochs, seeds 1-5, every variance option): |Spearman|
-- 0.958 to 0.995, so 0.9 is a bound with room
test("factor: a short run lowers the loss and recovers Z (|Spearman| > 0.9), every noise model", function()
  for _, v in ipairs(factor.VARIANCE_NAMES) do
    local out = tap.tmpdir()
    local s = assert(factor.run { variance = v, n = 100, p = 20, epochs = 30, out = out, quiet = true, ["no-charts"] = true })
    local first, last
    for line in io.lines(out .. "/history.tsv") do
      local e, loss = line:match("^(%d+)\t([^\t]+)")
      if e then first = first or tonumber(loss); last = tonumber(loss) end
    end
    assert(last < first, v .. ": loss " .. first .. " -> " .. last)
    assert(s.spearman_abs > 0.9, v .. ": |spearman| " .. s.spearman_abs)
    assert(s.sigma_rmse > 0 and s.g_mse > 0 and s.elbo_test < 0, v)
    for _, f in ipairs { "summary.tsv", "recon.tsv", "latent.tsv", "g.tsv", "sigma.tsv" } do
      assert(read(out .. "/" .. f), v .. ": " .. f)
    end
    os.execute("rm -rf " .. q(out))
  end
end)

test("factor on the command line: end to end with charts; bad options exit 2", function()
  local script = q(root .. "/experiments/factor.lua")
  local out = tap.tmpdir()
  local code, text = sh(lua .. " " .. script .. " --n 60 --p 8 --epochs 3 --variance learned --out " .. q(out))
  assert(code == 0 and text:find("wrote " .. out .. "/", 1, true), text)
  assert(read(out .. "/summary.tsv"):find("spearman_abs"), "summary columns")
  if plot.available() then assert(read(out .. "/g.png") and read(out .. "/sigma.png"), "charts") end
  code, text = sh(lua .. " " .. script .. " --variance diagonal")
  assert(code == 2 and has(text, "--variance") and has(text, "per-feature"), code .. text)
  code, text = sh(lua .. " " .. script .. " --set decoder_var_hidden=0")
  assert(code == 2 and has(text, "decoder_var_hidden"), code .. text)
  code, text = sh(lua .. " " .. script .. " --help")
  assert(code == 0 and has(text, "--variance") and has(text, "TensorFlow blog post on a nonlinear factor model"), text)
  os.execute("rm -rf " .. q(out))
end)

os.execute("rm -rf " .. q(scratch))
tap.finish()
