# lme4's handling of aliased fixed-effects columns (issue 15, item 2), for
# tests/reference/test_aliasing.py (which reads aliasing.json and aliasing.csv, never R):
#
#   cd tests/reference/aliasing && Rscript make_aliasing.R
#
# Small constructed data (written to aliasing.csv; factors' level orders in aliasing.json), and per
# case lme4's lmer() with its defaults: the model matrix's columns before dropping, the columns
# dropped (attr(X, "col.dropped")) and kept (colnames of getME(m, "X")), lme4's message, and the
# fit (fixef, sigma, theta, REML criterion) at full double precision.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
set.seed(2)
n <- 360
d <- data.frame(
  g = factor(sprintf("g%02d", rep(1:24, length.out = n))),
  A = factor(sample(c("a1", "a2", "a3"), n, replace = TRUE), levels = c("a2", "a1", "a3")),  # baseline a2
  B = factor(sample(c("b1", "b2", "b3"), n, replace = TRUE), levels = c("b3", "b1", "b2")),  # baseline b3
  C = factor(sample(c("c1", "c2"), n, replace = TRUE), levels = c("c2", "c1")),              # baseline c2
  x1 = round(rnorm(n), 4),
  x2 = round(rnorm(n), 4),
  D = factor(sample(c("d1", "d2", "d3", "d4"), n, replace = TRUE), levels = c("d3", "d1", "d4", "d2"))  # baseline d3
)
# empty cells of the three-way table (so that interaction columns are zero or aliased)
d <- d[!(d$A == "a1" & d$B == "b2") & !(d$A == "a3" & d$B == "b1" & d$C == "c1") & !(d$A == "a2" & d$C == "c1" & d$B == "b3"), ]
rownames(d) <- NULL
n <- nrow(d)
d$x1copy <- d$x1
d$x3 <- d$x1 - 2 * d$x2 + 1                      # a linear combination of the intercept, x1, x2
d$a1 <- as.numeric(d$A == "a1")                  # aliased with A's column Aa1
d$w <- round(rnorm(n), 4)
d$w[seq(5, n, by = 9)] <- NA
d$x4 <- 3 * d$x1                                 # aliased with x1 only where w is not missing
d$x4[is.na(d$w)] <- d$x4[is.na(d$w)] + round(rnorm(sum(is.na(d$w))), 4)
d$z <- 0                                         # zero where w is not missing
d$z[is.na(d$w)] <- 1
d$x5 <- ifelse(d$A == "a3", 0, d$x2)             # no slope on x5 within level a3
d$y <- round(10 + d$x1 - d$x2 + 0.5 * (d$A == "a1") + 0.3 * (d$B == "b2") - 0.4 * (d$C == "c1") +
  rnorm(24)[as.integer(d$g)] + rnorm(n), 4)
write.csv(d, "aliasing.csv", row.names = FALSE, na = "")

cases <- c(
  three_way_empty_cells = "y ~ A * B * C + (1 | g)",
  four_way_many_empty_cells = "y ~ A * B * C * D + (1 | g)",
  three_way_with_covariate = "y ~ x1 + A * B * C + (1 | g)",
  two_way_empty_cell = "y ~ A * B + x1 + (1 | g)",
  duplicated_column = "y ~ x1 + x1copy + x2 + (1 | g)",
  duplicated_by_I = "y ~ x1 + I(x1) + (1 | g)",
  linearly_dependent = "y ~ x1 + x2 + x3 + (1 | g)",
  dependent_first = "y ~ x3 + x1 + x2 + (1 | g)",
  factor_and_indicator = "y ~ A + a1 + (1 | g)",
  indicator_then_factor = "y ~ a1 + A + (1 | g)",
  after_missing_rows = "y ~ x1 + x4 + w + (1 | g)",
  zero_after_missing_rows = "y ~ x1 + z + w + (1 | g)",
  slope_missing_in_a_level = "y ~ A * x5 + (1 | g)",
  no_intercept_factors = "y ~ 0 + A + B + a1 + (1 | g)"
)

num <- function(x) {
  x <- as.double(x)
  s <- sprintf("%.15g", x)
  bad <- as.numeric(s) != x
  s[bad] <- sprintf("%.17g", x[bad])
  s[!is.finite(x)] <- "null"
  s
}
# full-precision JSON: numbers go through num() and are pasted in verbatim
vec <- function(x) structure(paste0("[", paste(num(x), collapse = ","), "]"), class = "json")
sca <- function(x) structure(num(x), class = "json")

out <- list()
for (id in names(cases)) {
  f <- as.formula(cases[[id]])
  msgs <- character(0)
  m <- withCallingHandlers(lmer(f, data = d),
    message = function(e) { msgs <<- c(msgs, conditionMessage(e)); invokeRestart("muffleMessage") },
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
  lf <- lFormula(f, data = d, control = lmerControl(check.rankX = "ignore"))
  X <- getME(m, "X")
  out[[id]] <- list(
    id = id,
    formula = cases[[id]],
    nobs = nobs(m),
    all_columns = I(colnames(lf$X)),
    kept = I(colnames(X)),
    dropped = I(names(attr(X, "col.dropped"))),
    messages = I(msgs),
    fixef = vec(fixef(m)),
    sigma = sca(sigma(m)),
    theta = vec(getME(m, "theta")),
    REMLcrit = sca(REMLcrit(m))
  )
}
levels_of <- lapply(d[vapply(d, is.factor, TRUE)], levels)
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")), levels = levels_of, cases = unname(out))
writeLines(toJSON(meta, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), "aliasing.json")
cat("wrote", length(out), "cases\n")
