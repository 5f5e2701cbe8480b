-- The three-phase oil flow data (data/oilflow/README.md): the files, their
-- sha256 (checked before every read), the regimes, and loading a split as a
-- matrix with its labels (1, 2, 3 = homogeneous, annular, stratified).
local experiment = require "experiment"
local M = {}

M.sha256 = {
  ["DataTrn.txt"] = "d93847ad0dbeef61c883aff0362ee980f3a50981c9bb40bcb0fb5ce04a2563ee",
  ["DataTrnLbls.txt"] = "50ad83b1ff99b3374b412e3063619a7fe817b93f9bfa06642a08c99cf2de6719",
  ["DataTst.txt"] = "e0ef016b5cac7f026ffd96b2deefc9d16480cd9b64e76e13b7a9978709be991d",
  ["DataTstLbls.txt"] = "894f48099490ae182cc4a009ba04972b158d82e576db554a1737b6075b1439fd",
  ["oil100_indices.txt"] = "4e269b58d50a8d5d667708a6b3125b82fd97de99a5e5c414183b65de9bc3e5be",
}

-- The label columns in order (data/oilflow/README.md says why this order).
M.regimes = { "homogeneous", "annular", "stratified" }

function M.dir(given)
  if given and given ~= "" then return given end
  return experiment.root .. "/data/oilflow"
end

-- The sha256 of a file (sha256sum), or nil and a message.
local function sha256_of(path)
  local f = io.open(path, "rb")
  if not f then return nil, "cannot read " .. experiment.display(path) end
  f:close()
  local p = io.popen("sha256sum -- " .. experiment.shell_quote(path) .. " 2>/dev/null")
  local line = p and p:read("l")
  if p then p:close() end
  local sum = line and line:match("^(%x+)")
  if not sum then return nil, "cannot compute the sha256 of " .. experiment.display(path) .. " (is sha256sum installed?)" end
  return sum
end

-- Checks the file's sha256 against the table, then reads it as a float table.
-- Returns the matrix, or nil and a message naming the file.
function M.table(dir, name)
  local vae = experiment.load_vae()
  local path = dir .. "/" .. name
  local sum, err = sha256_of(path)
  if not sum then return nil, err end
  if sum ~= M.sha256[name] then
    return nil, string.format("%s is not the expected file (sha256 %s, expected %s; data/oilflow/README.md)",
      experiment.display(path), sum, M.sha256[name])
  end
  return vae.data.table(path)
end

-- A one-hot label matrix as a list of class numbers 1..k.
local function classes(onehot, path)
  local labels = {}
  for i = 1, onehot:rows() do
    local c
    for j = 1, onehot:cols() do
      if onehot:get(i, j) == 1 then
        if c then return nil, string.format("%s: row %d has more than one 1", path, i) end
        c = j
      end
    end
    if not c then return nil, string.format("%s: row %d has no 1", path, i) end
    labels[i] = c
  end
  return labels
end

-- split "Trn" or "Tst": { x = matrix (n x 12), labels = {1..3, ...} }, or nil,
-- message. subset (the training split only): "100" keeps the oil_100 rows in
-- their order, "all" (the default) every row.
function M.load(dir, split, subset)
  local x, err = M.table(dir, "Data" .. split .. ".txt")
  if not x then return nil, err end
  local onehot
  onehot, err = M.table(dir, "Data" .. split .. "Lbls.txt")
  if not onehot then return nil, err end
  if onehot:rows() ~= x:rows() or onehot:cols() ~= #M.regimes then
    return nil, string.format("%s/Data%sLbls.txt: %d x %d labels for %d points (expected %d columns)",
      experiment.display(dir), split, onehot:rows(), onehot:cols(), x:rows(), #M.regimes)
  end
  local labels
  labels, err = classes(onehot, experiment.display(dir) .. "/Data" .. split .. "Lbls.txt")
  if not labels then return nil, err end
  if subset == "100" then
    local idx
    idx, err = M.table(dir, "oil100_indices.txt")
    if not idx then return nil, err end
    local vae = experiment.load_vae()
    local sub, sub_labels = vae.matrix(idx:rows(), x:cols()), {}
    for i = 1, idx:rows() do
      local r = math.tointeger(idx:get(i, 1))
      if not r or r < 0 or r >= x:rows() then
        return nil, string.format("%s/oil100_indices.txt: line %d: %s is not a row of Data%s.txt",
          experiment.display(dir), i, tostring(idx:get(i, 1)), split)
      end
      for j = 1, x:cols() do sub:set(i, j, x:get(r + 1, j)) end
      sub_labels[i] = labels[r + 1]
    end
    x, labels = sub, sub_labels
  end
  return { x = x, labels = labels }
end

return M
