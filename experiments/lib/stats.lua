-- Small statistics for result tables.
local M = {}

-- Ranks with ties given their average rank.
local function ranks(v)
  local idx = {}
  for i = 1, #v do idx[i] = i end
  table.sort(idx, function(a, b) return v[a] < v[b] end)
  local r = {}
  local i = 1
  while i <= #idx do
    local j = i
    while j < #idx and v[idx[j + 1]] == v[idx[i]] do j = j + 1 end
    for k = i, j do r[idx[k]] = (i + j) / 2 end
    i = j + 1
  end
  return r
end

function M.pearson(a, b)
  local n = #a
  local ma, mb = 0, 0
  for i = 1, n do ma = ma + a[i]; mb = mb + b[i] end
  ma, mb = ma / n, mb / n
  local sab, saa, sbb = 0, 0, 0
  for i = 1, n do
    local da, db = a[i] - ma, b[i] - mb
    sab, saa, sbb = sab + da * db, saa + da * da, sbb + db * db
  end
  if saa == 0 or sbb == 0 then return 0 end -- a constant has no correlation
  return sab / math.sqrt(saa * sbb)
end

function M.spearman(a, b) return M.pearson(ranks(a), ranks(b)) end

function M.mean(v)
  local s = 0
  for i = 1, #v do s = s + v[i] end
  return s / #v
end

return M
