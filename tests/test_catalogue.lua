-- The bad-input catalogue: one table of hostile inputs (data files, config
-- keys and values, script options, checkpoints, API calls), each with the
-- exit status and the message (file, key or option named) it must give. Every
-- case runs as a child process under a time limit: none may crash (status
-- above 2), hang (killed by timeout) or leave a temporary or partial file.
-- Usage: lua5.4 tests/test_catalogue.lua [./vae.so]
local so = arg[1] or "./vae.so"
local LUA = os.getenv("LUA") or "lua5.4"
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", "")
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. q(dir)))
local function path(name) return dir .. "/" .. name end
local function write(name, bytes)
  local f = assert(io.open(path(name), "wb"))
  f:write(bytes)
  f:close()
  return path(name)
end
local function be32(n) return string.pack(">I4", n) end
local function idx3(n, h, w, fill) return "\0\0\8\3" .. be32(n) .. be32(h) .. be32(w) .. string.rep(fill or "\0", n * h * w) end
local function idx1(n, fill) return "\0\0\8\1" .. be32(n) .. (fill or string.rep("\1", n)) end

-- a snippet that loads with the module and prints the error (exit 1) on failure
local function lua_case(code)
  local f = write("case-" .. math.random(1 << 30) .. ".lua",
    "package.cpath = " .. string.format("%q", so:gsub("vae%.so$", "?.so")) .. " .. ';' .. package.cpath\n"
    .. "local vae = require 'vae'\n" .. code)
  return LUA .. " " .. q(f)
end
local function load_images(p)
  return lua_case("local v, e = vae.data.idx_images(" .. string.format("%q", p) .. ")\nif not v then io.stderr:write(e, '\\n') os.exit(1) end")
end
local function load_labels(p)
  return lua_case("local v, e = vae.data.idx_labels(" .. string.format("%q", p) .. ")\nif not v then io.stderr:write(e, '\\n') os.exit(1) end")
end
local scurve = LUA .. " experiments/scurve.lua --quiet --no-charts --epochs 2 "
local mnist = LUA .. " experiments/mnist.lua --quiet --no-charts --no-fetch "
local function out(name) return " --out " .. q(path(name)) end

-- fixtures
write("empty", "")
write("gzip", "\31\139\8\0\0\0")
write("magic", "\1\2\8\3" .. be32(1) .. be32(1) .. be32(1) .. "\0")
write("float", "\0\0\13\3" .. be32(1) .. be32(1) .. be32(1) .. "\0\0\0\0")
write("labels", idx1(3))
write("short", idx3(2, 2, 2):sub(1, -3))
write("long", idx3(2, 2, 2) .. "xx")
write("zero", "\0\0\8\3" .. be32(0) .. be32(2) .. be32(2))
write("huge", "\0\0\8\3" .. be32(0x7fffffff) .. be32(0x7fffffff) .. be32(2))
os.execute("mkfifo " .. q(path("fifo")))
os.execute("mkdir -p " .. q(path("adir")))
write("plain", "x")
-- MNIST folders: 20x20 images; a label of 255; train and test swapped
local real = "data/mnist"
local have_mnist = io.open(real .. "/train-images-idx3-ubyte") ~= nil
if have_mnist then
  local abs = os.getenv("PWD") .. "/" .. real
  for _, d in ipairs { "m20", "m255", "mswap" } do os.execute("mkdir -p " .. q(path(d))) end
  write("m20/train-images-idx3-ubyte", idx3(3, 20, 20))
  write("m20/train-labels-idx1-ubyte", idx1(3))
  write("m20/t10k-images-idx3-ubyte", idx3(3, 20, 20))
  write("m20/t10k-labels-idx1-ubyte", idx1(3))
  local labels = string.rep("\1", 59999) .. "\255"
  write("m255/train-labels-idx1-ubyte", idx1(60000, labels))
  for _, f in ipairs { "train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" } do
    os.execute("ln -s " .. q(abs .. "/" .. f) .. " " .. q(path("m255/" .. f)))
  end
  local swap = { ["train-images-idx3-ubyte"] = "t10k-images-idx3-ubyte", ["t10k-images-idx3-ubyte"] = "train-images-idx3-ubyte",
    ["train-labels-idx1-ubyte"] = "t10k-labels-idx1-ubyte", ["t10k-labels-idx1-ubyte"] = "train-labels-idx1-ubyte" }
  for a, b in pairs(swap) do os.execute("ln -s " .. q(abs .. "/" .. b) .. " " .. q(path("mswap/" .. a))) end
end
-- checkpoints: a good one of config A, then damaged copies
assert(sh(scurve .. out("ck-run") .. " --checkpoint " .. q(path("good.ckpt"))) == 0)
local good = assert(io.open(path("good.ckpt"), "rb")):read("a")
write("ck-garbage", "hello, I am not a checkpoint at all, but long enough to pass the header size check.........")
write("ck-trunc", good:sub(1, #good // 2))
write("ck-flip", good:sub(1, 200) .. string.char(good:byte(201) ~ 4) .. good:sub(202))
write("ck-version", good:sub(1, 8) .. "\2" .. good:sub(10))
os.execute("mkfifo " .. q(path("ck-fifo")))
local function resume(ck, extra) return scurve .. (extra or "") .. out("r-" .. ck) .. " --resume --checkpoint " .. q(path(ck)) end

-- { name, command, exit status, text the message must contain }
local cases = {
  -- data files
  { "idx: empty file", load_images(path("empty")), 1, "empty: truncated" },
  { "idx: gzip-compressed", load_images(path("gzip")), 1, "gzip-compressed; unpack it first" },
  { "idx: wrong magic", load_images(path("magic")), 1, "not an idx file (magic starts 0x01 0x02" },
  { "idx: float values", load_images(path("float")), 1, "holds 32-bit float values" },
  { "idx: labels file as images", load_images(path("labels")), 1, "has 1 dimension; images need 3" },
  { "idx: images file as labels", load_labels(path("short")), 1, "has 3 dimensions; labels need 1" },
  { "idx: truncated data", load_images(path("short")), 1, "short: truncated: the header describes 2 images" },
  { "idx: trailing bytes", load_images(path("long")), 1, "long: oversized: 2 bytes after the 2 images" },
  { "idx: zero images", load_images(path("zero")), 1, "zero: holds zero images" },
  { "idx: size beyond 2^31 bytes", load_images(path("huge")), 1, "huge: implausible size" },
  { "idx: a FIFO (must not hang)", load_images(path("fifo")), 1, "fifo: not a regular file" },
  { "idx: a directory", load_images(path("adir")), 1, "adir: not a regular file" },
  { "idx: missing file", load_images(path("nothing")), 1, "nothing: cannot open: No such file" },
  { "mnist: missing folder, no fetch", mnist .. "--data " .. q(path("none")) .. out("m1"), 1, "MNIST is not in" },
  -- config keys and values (--set)
  { "--set latent=0", scurve .. "--set latent=0" .. out("s"), 2, "key 'latent': must be an integer in [1, 100000] (got '0')" },
  { "--set latent=abc", scurve .. "--set latent=abc" .. out("s"), 2, "key 'latent'" },
  { "--set latent=2.5", scurve .. "--set latent=2.5" .. out("s"), 2, "key 'latent'" },
  { "--set unknown key", scurve .. "--set nosuch=1" .. out("s"), 2, "nosuch" },
  { "--set lr=-1", scurve .. "--set lr=-1" .. out("s"), 2, "key 'lr'" },
  { "--set lr=nan", scurve .. "--set lr=nan" .. out("s"), 2, "key 'lr'" },
  { "--set activation=foo", scurve .. "--set activation=foo" .. out("s"), 2, "key 'activation'" },
  { "--set likelihood=foo", scurve .. "--set likelihood=foo" .. out("s"), 2, "key 'likelihood'" },
  { "--set batch=1.5", scurve .. "--set batch=1.5" .. out("s"), 2, "key 'batch'" },
  { "--set hidden=1,,2", scurve .. "--set hidden=1,,2" .. out("s"), 2, "key 'hidden'" },
  { "--set dropout=1.5", scurve .. "--set dropout=1.5" .. out("s"), 2, "key 'dropout'" },
  { "--set seed=-1", scurve .. "--set seed=-1" .. out("s"), 2, "key 'seed'" },
  { "--set kl=maybe", scurve .. "--set kl=maybe" .. out("s"), 2, "key 'kl'" },
  { "--set without =", scurve .. "--set latent" .. out("s"), 2, "latent" },
  -- script options
  { "--config Z", scurve .. "--config Z" .. out("o"), 2, "option --config: expected one of" },
  { "--epochs 0", scurve .. "--epochs 0" .. out("o"), 2, "option --epochs: expected an integer >= 1, got '0'" },
  { "--epochs abc", scurve .. "--epochs abc" .. out("o"), 2, "option --epochs: expected an integer >= 1, got 'abc'" },
  { "--backend nosuch", scurve .. "--backend nosuch" .. out("o"), 2, "option --backend: expected one of" },
  { "--threads -1", scurve .. "--threads -1" .. out("o"), 2, "option --threads" },
  { "unknown option", scurve .. "--bogus" .. out("o"), 2, "unknown argument '--bogus'" },
  { "option without its value", scurve .. out("o") .. " --seed", 2, "--seed needs a value" },
  { "--quiet=maybe", scurve .. "--quiet=maybe" .. out("o"), 2, "--quiet takes no value (or =true, =false)" },
  { "--resume without --checkpoint", scurve .. "--resume" .. out("o"), 2, "option --resume needs --checkpoint" },
  { "--checkpoint-every 0", scurve .. "--checkpoint x --checkpoint-every 0" .. out("o"), 2, "option --checkpoint-every" },
  { "--out under /dev/full (before training)", scurve .. "--out /dev/full/x", 1, "cannot create directory /dev/full/x" },
  { "--out under a file", scurve .. "--out " .. q(path("plain") .. "/x"), 1, "plain/x" },
  { "mnist --k beyond the limit", mnist .. "--k 99999999" .. out("m"), 2, "option --k: expected at most 10000000" },
  { "mnist --train 0", mnist .. "--train 0" .. out("m"), 2, "option --train" },
  { "mnist --likelihood foo", mnist .. "--likelihood foo" .. out("m"), 2, "option --likelihood" },
  { "divergence: lr = 1 on config A", scurve .. "--set lr=1" .. out("div"), 1, "training diverged at epoch 1, step" },
  -- checkpoints
  { "checkpoint: not one", resume("ck-garbage"), 1, "ck-garbage': not a checkpoint (wrong magic)" },
  { "checkpoint: truncated", resume("ck-trunc"), 1, "ck-trunc': truncated (the header says" },
  { "checkpoint: a flipped bit", resume("ck-flip"), 1, "ck-flip': checksum mismatch" },
  { "checkpoint: newer version", resume("ck-version"), 1, "format version 2 is newer than this build reads (1)" },
  { "checkpoint: another config", resume("good.ckpt", "--config B "), 1, "config mismatch: 'hidden=100' in the file, 'hidden=40,40,40,40,40' in the model" },
  { "checkpoint: other training options", resume("good.ckpt", "--set lr=0.01 "), 1, "written with other training options: 'lr=0.001' in the file, 'lr=0.01' now" },
  { "checkpoint: a FIFO", resume("ck-fifo"), 1, "ck-fifo': not a regular file" },
  { "checkpoint: a directory", resume("adir"), 1, "adir': not a regular file" },
  { "checkpoint: into a missing folder", scurve .. out("cm") .. " --checkpoint /nonexistent/x.ckpt", 1, "'/nonexistent/x.ckpt': cannot create a temporary" },
  -- the API
  { "vae.load of a missing file", lua_case("local m, e = vae.load('/nonexistent.ckpt') io.stderr:write(e) os.exit(m and 0 or 1)"), 1, "'/nonexistent.ckpt': cannot open" },
  { "fit: validation not data", lua_case("local m = vae.model{input=2, latent=1} m:fit(vae.data.scurve{n=10}, {validation = 5})"), 1, "fit: key 'validation' must be a matrix, images or data set (got number)" },
  { "fit: resume without checkpoint", lua_case("local m = vae.model{input=2, latent=1} m:fit(vae.data.scurve{n=10}, {resume = true})"), 1, "keys 'resume' and 'checkpoint_every' need key 'checkpoint'" },
  { "vae.matrix beyond 2^31 rows", lua_case("vae.matrix(2^31 + 5, 1)"), 1, "vae.matrix: bad shape 2147483653 x 1" },
  { "integer key given a numeric string", lua_case("vae.model{input = 2, latent = '1'}"), 1, "key 'latent' must be an integer (got string)" },
  { "sample count beyond the limit", lua_case("vae.model{input=2, latent=1}:sample(2^40)"), 1, "sample count must be in [1, 10000000]" },
}
if have_mnist then
  table.insert(cases, { "mnist: 20 x 20 images", mnist .. "--data " .. q(path("m20")) .. out("m2"), 1, "m20/train-images-idx3-ubyte: images are 20 x 20, MNIST's are 28 x 28" })
  table.insert(cases, { "mnist: a label of 255", mnist .. "--data " .. q(path("m255")) .. out("m3"), 1, "m255/train-labels-idx1-ubyte: label 60000 is 255, MNIST's are 0..9" })
  table.insert(cases, { "mnist: train and test swapped", mnist .. "--data " .. q(path("mswap")) .. out("m4"), 1, "mswap/train-images-idx3-ubyte: 10000 images, MNIST's train set has 60000 (files swapped?)" })
end

local passed, failed = 0, 0
for i, c in ipairs(cases) do
  local rc, text = sh("timeout -s KILL 60 " .. c[2])
  local leftovers = {}
  local p = io.popen("find " .. q(dir) .. " -name '*.tmp*' -o -name '.write-probe*'")
  for l in p:lines() do leftovers[#leftovers + 1] = l end
  p:close()
  local ok = rc == c[3] and text:find(c[4], 1, true) and #leftovers == 0
  if ok then
    passed = passed + 1
    print("ok - " .. c[1] .. " (exit " .. rc .. ")")
  else
    failed = failed + 1
    print(string.format("not ok - %s: exit %s (want %d)%s; message: %s", c[1], tostring(rc), c[3],
      #leftovers > 0 and ", left " .. table.concat(leftovers, " ") or "", (text:gsub("\n", " | "))))
    for _, l in ipairs(leftovers) do os.remove(l) end
  end
end
os.execute("rm -rf " .. q(dir))
print(string.format("# %d bad inputs tried", #cases))
print(passed .. " passed, " .. failed .. " failed")
os.exit(failed == 0 and 0 or 1)
