-- Small statistics for result tables: mean, sd, median, quantiles, Pearson and
-- Spearman correlation, the normal CDF and quantile, PCA, 1-nearest-neighbour
-- error counts and the Mann-Whitney U test.
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

-- The first two principal components of rows (a list of equal-length number
-- lists): returns the projections {{p1, p2}, ...} and the shares of variance
-- the two components explain. Power iteration with deflation on the covariance.
function M.pca2(rows)
  local n, d = #rows, #rows[1]
  if n < 2 then -- no spread to analyse
    local proj = {}
    for i = 1, n do proj[i] = { 0, 0 } end
    return proj, { 0, 0 }
  end
  local mean = {}
  for j = 1, d do mean[j] = 0 end
  for i = 1, n do for j = 1, d do mean[j] = mean[j] + rows[i][j] end end
  for j = 1, d do mean[j] = mean[j] / n end
  local cov = {}
  for a = 1, d do cov[a] = {}; for b = 1, d do cov[a][b] = 0 end end
  local c = {}
  for i = 1, n do
    local r = rows[i]
    for j = 1, d do c[j] = r[j] - mean[j] end
    for a = 1, d do
      local ca, row = c[a], cov[a]
      for b = a, d do row[b] = row[b] + ca * c[b] end
    end
  end
  local total = 0
  for a = 1, d do
    for b = a, d do cov[a][b] = cov[a][b] / (n - 1); cov[b][a] = cov[a][b] end
    total = total + cov[a][a]
  end
  local comps, shares = {}, {}
  for k = 1, math.min(2, d) do
    local v = {}
    for j = 1, d do v[j] = 1 / math.sqrt(d) + 1e-3 * j end -- not orthogonal to any axis
    local lambda = 0
    for _ = 1, 500 do
      local w, norm = {}, 0
      for a = 1, d do
        local s = 0
        for b = 1, d do s = s + cov[a][b] * v[b] end
        w[a] = s
        norm = norm + s * s
      end
      norm = math.sqrt(norm)
      if norm == 0 then break end
      local delta = 0
      for a = 1, d do delta = delta + math.abs(w[a] / norm - v[a]); v[a] = w[a] / norm end
      lambda = norm
      if delta < 1e-10 then break end
    end
    comps[k], shares[k] = v, total > 0 and lambda / total or 0
    for a = 1, d do for b = 1, d do cov[a][b] = cov[a][b] - lambda * v[a] * v[b] end end
  end
  local proj = {}
  for i = 1, n do
    local p = {}
    for k = 1, #comps do
      local s = 0
      for j = 1, d do s = s + (rows[i][j] - mean[j]) * comps[k][j] end
      p[k] = s
    end
    proj[i] = p
  end
  return proj, shares
end

-- The sample standard deviation (n - 1); 0 for fewer than two values.
function M.sd(v)
  local n = #v
  if n < 2 then return 0 end
  local m, s = M.mean(v), 0
  for i = 1, n do s = s + (v[i] - m) ^ 2 end
  return math.sqrt(s / (n - 1))
end

-- The 1-nearest-neighbour classification error COUNT, Euclidean: with points
-- and labels only, leave-one-out (each point classified by its nearest other
-- point, the measure of Lawrence's lvmNearestNeighbour); with ref_points and
-- ref_labels, each point classified by its nearest reference point. points are
-- lists of coordinates of equal length. A tie goes to the first neighbour in
-- order. Returns the count and the list of the misclassified indices.
function M.knn1_errors(points, labels, ref_points, ref_labels)
  local loo = ref_points == nil
  local ref, ref_lab = ref_points or points, ref_labels or labels
  assert(#labels == #points and #ref_lab == #ref, "knn1_errors: a label per point")
  assert(#ref > (loo and 1 or 0), "knn1_errors: no neighbours to compare with")
  local d = #ref[1]
  local errors, wrong = 0, {}
  for i = 1, #points do
    local p = points[i]
    assert(#p == d, "knn1_errors: points and references of different dimension")
    local best, best_j = math.huge, nil
    for j = 1, #ref do
      if not (loo and j == i) then
        local r, s = ref[j], 0
        for k = 1, d do
          local diff = p[k] - r[k]
          s = s + diff * diff
        end
        if s < best then best, best_j = s, j end
      end
    end
    if ref_lab[best_j] ~= labels[i] then
      errors = errors + 1
      wrong[#wrong + 1] = i
    end
  end
  return errors, wrong
end

-- The median of a list of numbers (the list is not changed).
function M.median(v)
  local s = {}
  for i = 1, #v do s[i] = v[i] end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- The q-quantile (0 <= q <= 1) of a list of numbers, interpolating linearly
-- between order statistics (type 7, R's default; q = 0.5 is the median).
function M.quantile(v, q)
  local s = {}
  for i = 1, #v do s[i] = v[i] end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  local h = (n - 1) * q + 1
  local lo = math.floor(h)
  if lo >= n then return s[n] end
  return s[lo] + (h - lo) * (s[lo + 1] - s[lo])
end

-- The standard normal CDF, 0.5 erfc(-x / sqrt 2) via the Abramowitz-Stegun
-- 7.1.26 erf (accurate to 1.5e-7: plenty for grid points).
function M.normal_cdf(x)
  local t = 1 / (1 + 0.3275911 * math.abs(x) / math.sqrt(2))
  local y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
    + 0.254829592) * t * math.exp(-x * x / 2)
  return x >= 0 and 0.5 * (1 + y) or 0.5 * (1 - y)
end

-- The standard normal quantile, by bisection on normal_cdf.
function M.normal_quantile(p)
  local lo, hi = -10, 10
  for _ = 1, 100 do
    local mid = (lo + hi) / 2
    if M.normal_cdf(mid) < p then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

-- The number of ways to order na a's and nb b's with U = u (U counts the pairs
-- with the a after the b), for every u: counts[u + 1], u = 0 .. na nb. By the
-- recursion f(i, j, u) = f(i - 1, j, u - j) + f(i, j - 1, u) over the last item.
local function u_counts(na, nb)
  local prev = {} -- f(i - 1, ., .)
  for j = 0, nb do prev[j] = { [0] = 1 } end
  for i = 1, na do
    local cur = {}
    cur[0] = { [0] = 1 }
    for j = 1, nb do
      local t, a, b = {}, prev[j], cur[j - 1]
      for u = 0, i * j do t[u] = (u >= j and a[u - j] or 0) + (b[u] or 0) end
      cur[j] = t
    end
    prev = cur
  end
  return prev[nb]
end

-- The Mann-Whitney U test (Wilcoxon rank-sum) of samples a and b. U is U_a, the
-- number of pairs (x from a, y from b) with x > y, ties counting 1/2.
-- alternative: "two-sided" (default), "greater" (a tends to be larger) or
-- "less". The p-value is exact (the null distribution of U counted) when there
-- are no ties and na + nb <= 60, else the normal approximation with the tie
-- correction and a continuity correction of 1/2. Returns { u =, p =, method =
-- "exact" | "normal", z = (normal only) }.
function M.mann_whitney(a, b, alternative)
  alternative = alternative or "two-sided"
  local na, nb = #a, #b
  assert(na > 0 and nb > 0, "mann_whitney: both samples need values")
  assert(alternative == "two-sided" or alternative == "greater" or alternative == "less",
    "mann_whitney: alternative must be two-sided, greater or less")
  local all = {}
  for i = 1, na do all[i] = a[i] end
  for i = 1, nb do all[na + i] = b[i] end
  local r = ranks(all)
  local ra = 0
  for i = 1, na do ra = ra + r[i] end
  local u = ra - na * (na + 1) / 2
  -- tie groups: sum of t^3 - t
  local sorted = {}
  for i = 1, #all do sorted[i] = all[i] end
  table.sort(sorted)
  local ties, i = 0, 1
  while i <= #sorted do
    local j = i
    while j < #sorted and sorted[j + 1] == sorted[i] do j = j + 1 end
    local t = j - i + 1
    ties = ties + t ^ 3 - t
    i = j + 1
  end
  local n = na + nb
  if ties == 0 and n <= 60 then
    local counts, total = u_counts(na, nb), 0
    for k = 0, na * nb do total = total + counts[k] end
    local ui = math.floor(u + 0.5)
    local le, ge = 0, 0
    for k = 0, na * nb do
      if k <= ui then le = le + counts[k] end
      if k >= ui then ge = ge + counts[k] end
    end
    le, ge = le / total, ge / total
    local p = alternative == "greater" and ge or alternative == "less" and le
      or math.min(1, 2 * math.min(le, ge))
    return { u = u, p = p, method = "exact" }
  end
  local mu = na * nb / 2
  local var = na * nb / 12 * ((n + 1) - ties / (n * (n - 1)))
  if var <= 0 then return { u = u, p = 1, method = "normal", z = 0 } end
  local sd = math.sqrt(var)
  local z, p
  if alternative == "greater" then
    z = (u - mu - 0.5) / sd
    p = 1 - M.normal_cdf(z)
  elseif alternative == "less" then
    z = (u - mu + 0.5) / sd
    p = M.normal_cdf(z)
  else
    z = math.max(0, math.abs(u - mu) - 0.5) / sd
    p = math.min(1, 2 * (1 - M.normal_cdf(z)))
  end
  return { u = u, p = p, method = "normal", z = z }
end

return M
