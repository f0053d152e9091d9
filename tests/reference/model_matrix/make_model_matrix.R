# Expected model matrices for tests/reference/test_model_matrix.py, from R and lme4.
#
#   cd tests/reference/model_matrix && Rscript make_model_matrix.R ../../../../shared/data
#
# writes model_matrix.json (and synthetic.csv, the small data set the R-semantics cases use).
# For each case: lme4's lFormula() on the data (rows with a missing value dropped by na.omit, as
# lmer does), its fixed-effects matrix X (names and values), each random-effects term's columns
# (names and values, summed over the levels of Zt), the response and the number of rows, and for
# the cases in predict_cases the fixed-effects matrix of new rows (R's makepredictcall). Large
# data sets store the first 200 rows plus each column's sum and sum of squares over all rows.
# The tests never run R: they read the JSON.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
  library(splines)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args)) args[[1]] else "../../../../shared/data"

read_shared <- function(file) {
  schema <- fromJSON(file.path(data_dir, sub("\\.csv(\\.gz)?$", ".schema.json", file)), simplifyVector = FALSE)
  d <- read.csv(file.path(data_dir, file), colClasses = "character", check.names = FALSE)
  for (col in schema$columns) {
    v <- d[[col$name]]
    v[v == ""] <- NA
    d[[col$name]] <- switch(col$type,
      numeric = as.numeric(v),
      integer = as.integer(v),
      factor = factor(v, levels = unlist(col$levels)),
      ordered = factor(v, levels = unlist(col$levels), ordered = TRUE)
    )
  }
  d
}

# the synthetic data: the column kinds R's semantics are about (integers, logicals, names R
# allows and Python does not, missing values inside transformed variables)
set.seed(15)
n <- 60
syn <- data.frame(
  y = round(rnorm(n), 6),
  x = round(runif(n, 1, 5), 6),
  w = round(rnorm(n), 6),
  u = sample(0:12, n, replace = TRUE),
  k = sample(c(2L, 3L, 10L), n, replace = TRUE),
  b = sample(c(TRUE, FALSE), n, replace = TRUE),
  g = factor(rep(letters[1:6], each = 10)),
  h = factor(rep(c("p", "q", "r", "s", "t"), times = 12)),
  Informed.liking = round(rnorm(n), 6),
  check.names = FALSE
)
syn[["my var"]] <- round(rnorm(n), 6)
syn[["2nd"]] <- round(rnorm(n, 3), 6)
syn$xna <- syn$x
syn$xna[c(3, 17, 40)] <- NA
syn$wna <- syn$w
syn$wna[c(5, 6, 51)] <- NA
write.csv(syn, "synthetic.csv", row.names = FALSE, na = "")

datasets <- list(
  synthetic = syn,
  sleepstudy = read_shared("sleepstudy.csv"),
  hsb = read_shared("Hsb82.csv"),
  cake = read_shared("cake.csv"),
  exam = read_shared("Exam.csv"),
  penicillin = read_shared("Penicillin.csv")
)

# id; data set; formula (lme4's), the formula mixedmodels is given if different ("" = same),
# whether names are compared (FALSE where mixedmodels' naming differs from R's: see the note)
cases <- read.table(header = TRUE, sep = ";", strip.white = TRUE, quote = "", stringsAsFactors = FALSE, text = "
id ; data ; formula ; ours ; names ; note
power_in_I ; synthetic ; y ~ I(x^2) + (1 | g) ;  ; TRUE ;
power_of_integers ; synthetic ; y ~ I(u^2) + I(u^3) + I(u - 5) + (1 | g) ;  ; TRUE ; u is uint8 in Python: R computes in double
power_python_syntax ; synthetic ; y ~ I(x^2) + (1 | g) ; y ~ I(x**2) + (1 | g) ; TRUE ;
integer_division ; synthetic ; y ~ I(u %/% 3) + I(u %% 3) + I(-u) + I(u/2) + (1 | g) ;  ; TRUE ;
logs ; synthetic ; y ~ log(x) + log(x, 2) + log10(x) + log2(x) + log1p(x) + (1 | g) ;  ; TRUE ;
log_base_keyword ; synthetic ; y ~ log(x, base = 10) + (1 | g) ;  ; TRUE ;
elementary ; synthetic ; y ~ sqrt(x) + abs(w) + exp(w) + expm1(w) + exp(-x/2) + (1 | g) ;  ; TRUE ;
numpy_names ; synthetic ; y ~ log(x) + sqrt(x) + (1 | g) ; y ~ np.log(x) + np.sqrt(x) + (1 | g) ; FALSE ; numpy's names stay numpy's
scale ; synthetic ; y ~ scale(x) + (1 | g) ;  ; TRUE ;
scale_center_only ; synthetic ; y ~ scale(x, center = TRUE, scale = FALSE) + (1 | g) ;  ; TRUE ;
scale_no_center ; synthetic ; y ~ scale(w, center = FALSE) + (1 | g) ;  ; TRUE ;
center ; synthetic ; y ~ scale(x, scale = FALSE) + (1 | g) ; y ~ center(x) + (1 | g) ; FALSE ; center() is not R's
poly_orthogonal ; synthetic ; y ~ poly(x, 2) + (1 | g) ;  ; TRUE ;
poly_degree3 ; synthetic ; y ~ poly(w, 3) + x + (1 | g) ;  ; TRUE ;
poly_raw ; synthetic ; y ~ poly(x, 3, raw = TRUE) + (1 | g) ;  ; TRUE ;
poly_integer ; synthetic ; y ~ poly(u, 2) + (1 | g) ;  ; TRUE ;
factor_numeric_levels ; synthetic ; y ~ factor(k) + (1 | g) ;  ; TRUE ; levels 2, 3, 10 in numeric order
as_factor ; synthetic ; y ~ as.factor(k) + x + (1 | g) ;  ; TRUE ;
ordered_poly_contrasts ; synthetic ; y ~ ordered(k) + (1 | g) ;  ; TRUE ;
ordered_of_factor ; synthetic ; y ~ ordered(h) + (1 | g) ;  ; TRUE ;
factor_interaction ; synthetic ; y ~ x * factor(k) + (1 | g) ;  ; TRUE ;
log_by_factor ; synthetic ; y ~ log(x):factor(k) + (1 | g) ;  ; TRUE ;
interaction_power ; synthetic ; y ~ (x + w + u)^2 + (1 | g) ;  ; TRUE ; ^ outside I() is the interaction power
power_of_sum_in_I ; synthetic ; y ~ I((x + w)^2) + (1 | g) ;  ; TRUE ;
true_false ; synthetic ; y ~ poly(x, 2, raw = TRUE) + scale(w, center = TRUE, scale = FALSE) + (1 | g) ;  ; TRUE ;
dotted_name ; synthetic ; y ~ Informed.liking + log(Informed.liking + 5) + (1 | g) ;  ; TRUE ;
backticks ; synthetic ; y ~ `my var` + I(`my var`^2) + `2nd` + (1 | g) ;  ; TRUE ; R prints names it cannot read bare in backticks
logical_column ; synthetic ; y ~ b + (1 | g) ;  ; TRUE ; R names a logical bTRUE
logical_arithmetic ; synthetic ; y ~ I(b + 0) + I(b * x) + (1 | g) ;  ; TRUE ;
comparison ; synthetic ; y ~ I(x > 3) + (1 | g) ;  ; TRUE ; a logical result is R's factor: I(x > 3)TRUE
comparison_bare ; synthetic ; y ~ (x > 3) + (1 | g) ;  ; TRUE ; R labels the term x > 3
comparison_no_intercept ; synthetic ; y ~ 0 + (x > 3) + w + (1 | g) ;  ; TRUE ; both levels FALSE and TRUE
comparison_I_no_intercept ; synthetic ; y ~ 0 + I(w < 0) + (1 | g) ;  ; TRUE ;
comparison_interaction ; synthetic ; y ~ w * (x > 3) + (1 | g) ;  ; TRUE ;
comparison_of_factor ; synthetic ; y ~ (k == 3) + (h != 'q') + (1 | g) ;  ; TRUE ;
comparison_random ; synthetic ; y ~ w + (x > 3 | g) ;  ; TRUE ;
comparison_random_no_intercept ; synthetic ; y ~ w + (0 + (x > 3) | g) ;  ; TRUE ;
comparison_arithmetic ; synthetic ; y ~ I((x > 3) + (w > 0)) + I((x > 3) * (w > 0)) + (1 | g) ;  ; TRUE ; R's arithmetic reads a logical as 0/1
comparison_arithmetic_factor ; synthetic ; y ~ factor((x > 3) + (w > 0)) + (1 | g) ;  ; TRUE ; three levels 0, 1, 2
comparison_negated ; synthetic ; y ~ exp(-(x > 3)) + I(2^(w > 0)) + (1 | g) ;  ; TRUE ;
interaction_variable_order ; synthetic ; y ~ w + x + x:w + (1 | g) ;  ; TRUE ; R orders a term's variables as they first appear: w:x
interaction_factor_order ; synthetic ; y ~ h + x + x:h + (1 | g) ;  ; TRUE ; hq:x
interaction_order_written_first ; synthetic ; y ~ x:h + h + x + (1 | g) ;  ; TRUE ; x first: x:hq
interaction_order_random ; synthetic ; y ~ w + (1 + x + x:w | g) ;  ; TRUE ; the term's own formula: x:w
missing_in_scale ; synthetic ; y ~ scale(xna) + w + (1 | g) ;  ; TRUE ; rows with xna missing dropped
missing_in_log ; synthetic ; y ~ log(xna) + log(wna + 5) + (1 | g) ;  ; TRUE ;
missing_in_random ; synthetic ; y ~ x + (scale(wna) | g) ;  ; TRUE ;
random_scale ; synthetic ; y ~ x + (scale(w) | g) ;  ; TRUE ;
random_poly ; synthetic ; y ~ x + (0 + poly(x, 2) | g) ;  ; TRUE ;
random_integer_arithmetic ; synthetic ; y ~ x + (1 + I(u - 5) | g) ;  ; TRUE ;
random_uncorrelated ; synthetic ; y ~ x + (I(x^2) || g) ;  ; TRUE ;
response_transform ; synthetic ; log(y + 10) ~ x + (1 | g) ;  ; TRUE ;
contrasts_sum ; synthetic ; y ~ C(h, contr.sum) + (1 | g) ;  ; FALSE ; formulaic names sum contrasts by level
negative_power_and_roots ; synthetic ; y ~ I(x^-1) + I(x^0.5) + I(-x^2) + I(2^u) + (1 | g) ;  ; TRUE ;
integer_functions ; synthetic ; y ~ sqrt(u) + log(u + 1) + exp(b) + I(k^2) + (1 | g) ;  ; TRUE ; u uint8, b logical, k integer
factor_of_logical ; synthetic ; y ~ factor(b) + (1 | g) ;  ; TRUE ;
as_factor_of_factor ; synthetic ; y ~ as.factor(h) + (1 | g) ;  ; TRUE ;
poly_by_factor ; synthetic ; y ~ poly(x, 2):factor(k) + (1 | g) ;  ; TRUE ;
scale_by_numeric ; synthetic ; y ~ scale(x):w + (1 | g) ;  ; TRUE ;
random_log ; synthetic ; y ~ x + (1 + log(x) | g) ;  ; TRUE ;
random_factor_fn ; synthetic ; y ~ x + (0 + factor(b) | g) ;  ; TRUE ;
two_terms_one_factor ; synthetic ; y ~ x + (1 | g) + (0 + scale(w) | g) ;  ; TRUE ;
crossed_transformed ; synthetic ; y ~ x + (I(x^2) | g) + (1 | h) ;  ; TRUE ;
ordered_integers ; synthetic ; y ~ ordered(u %/% 4) + (1 | g) ;  ; TRUE ;
sleep_quadratic ; sleepstudy ; Reaction ~ Days + I(Days^2) + (Days | Subject) ;  ; TRUE ;
sleep_log_poly ; sleepstudy ; log(Reaction) ~ poly(Days, 2) + (1 | Subject) ;  ; TRUE ;
sleep_factor_days ; sleepstudy ; Reaction ~ factor(Days) + (1 | Subject) ;  ; TRUE ;
sleep_scaled_slope ; sleepstudy ; Reaction ~ scale(Days) + (scale(Days) | Subject) ;  ; TRUE ;
hsb_quadratic_sector ; hsb ; mAch ~ ses * sector + I(ses^2) + (1 | school) ;  ; TRUE ;
hsb_poly ; hsb ; mAch ~ poly(ses, 3) + sector + (1 | school) ;  ; TRUE ;
hsb_scaled ; hsb ; mAch ~ scale(ses) * sx + meanses + (scale(ses) | school) ;  ; TRUE ;
hsb_cubic_centre ; hsb ; mAch ~ I(cses^3) + abs(meanses) + (1 | school) ;  ; TRUE ;
cake_log_temp ; cake ; angle ~ recipe + log(temp) + I(temp^2) + (1 | recipe:replicate) ;  ; TRUE ;
cake_poly_recipe ; cake ; angle ~ poly(temp, 2) * recipe + (1 | recipe:replicate) ;  ; TRUE ;
cake_factor_temp ; cake ; angle ~ factor(temp) + (1 | recipe:replicate) ;  ; TRUE ;
exam_quadratic ; exam ; normexam ~ standLRT + I(standLRT^2) + sex + (standLRT | school) ;  ; TRUE ;
exam_centered ; exam ; normexam ~ scale(standLRT, scale = FALSE) + vr + (1 | school) ;  ; TRUE ;
penicillin_log ; penicillin ; log(diameter) ~ sample + (1 | plate) ;  ; TRUE ;
penicillin_sqrt ; penicillin ; sqrt(diameter) ~ I(diameter > 24) + (1 | plate) ;  ; TRUE ;
ns_df ; synthetic ; y ~ ns(x, df = 3) + (1 | g) ;  ; TRUE ; splines::ns, knots at quantiles
ns_positional ; synthetic ; y ~ ns(w, 4) + x + (1 | g) ;  ; TRUE ;
ns_intercept ; synthetic ; y ~ 0 + ns(x, df = 3, intercept = TRUE) + (1 | g) ;  ; TRUE ;
ns_knots ; synthetic ; y ~ ns(w, knots = c(-0.5, 0.5)) + (1 | g) ;  ; TRUE ;
ns_default ; synthetic ; y ~ ns(x) + bs(w) + (1 | g) ;  ; TRUE ; no interior knots
bs_df ; synthetic ; y ~ bs(x, df = 5) + (1 | g) ;  ; TRUE ; splines::bs
bs_degree ; synthetic ; y ~ bs(x, df = 4, degree = 2) + (1 | g) ;  ; TRUE ;
bs_knots ; synthetic ; y ~ bs(x, knots = c(2, 3.5)) + (1 | g) ;  ; TRUE ;
bs_intercept ; synthetic ; y ~ 0 + bs(w, df = 4, intercept = TRUE) + (1 | g) ;  ; TRUE ;
bs_integer_ties ; synthetic ; y ~ bs(u, df = 6) + ns(k, 2) + (1 | g) ;  ; TRUE ; quantiles of tied integers
bs_linear ; synthetic ; y ~ bs(x, degree = 1, knots = c(3)) + (1 | g) ;  ; TRUE ;
spline_missing ; synthetic ; y ~ bs(xna, df = 4) + ns(wna, 2) + (1 | g) ;  ; TRUE ; rows with xna or wna missing dropped
missing_elsewhere ; synthetic ; y ~ scale(x) + poly(w, 2) + ns(x, 3) + wna + (1 | g) ;  ; TRUE ; centre, basis and knots of all rows (model.frame before na.omit)
missing_elsewhere_random ; synthetic ; y ~ xna + (scale(w) | g) ;  ; TRUE ;
ns_by_factor ; synthetic ; y ~ ns(x, 2):factor(k) + (1 | g) ;  ; TRUE ;
random_ns ; synthetic ; y ~ x + (ns(x, 2) | g) ;  ; TRUE ;
sleep_ns ; sleepstudy ; Reaction ~ ns(Days, df = 3) + (Days | Subject) ;  ; TRUE ;
sleep_bs_random ; sleepstudy ; Reaction ~ bs(Days, df = 4) + (bs(Days, degree = 1) | Subject) ;  ; TRUE ;
hsb_bs ; hsb ; mAch ~ bs(ses, df = 5) + sector + (1 | school) ;  ; TRUE ;
exam_ns ; exam ; normexam ~ ns(standLRT, df = 4) * sex + (1 | school) ;  ; TRUE ;
")
# cases whose fixed-effects matrix is also evaluated on new rows (R's makepredictcall: the knots of
# the fit), made from the first rows with every numeric column c replaced by 1.7 c + 0.3 (so that
# some fall outside the boundary knots: bs extrapolates the boundary polynomials, ns straight lines)
predict_cases <- c("ns_df", "ns_positional", "ns_knots", "ns_default", "bs_df", "bs_degree", "bs_knots",
                   "bs_intercept", "bs_integer_ties", "bs_linear", "poly_orthogonal", "scale", "sleep_ns", "hsb_bs")
new_rows <- function(d) {
  nd <- d[seq_len(8), , drop = FALSE]
  for (col in names(nd)) if (is.numeric(nd[[col]])) nd[[col]] <- 1.7 * nd[[col]] + 0.3
  nd
}

head_rows <- 200
out <- list()
for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  d <- datasets[[cs$data]]
  f <- as.formula(cs$formula)
  lf <- lFormula(f, data = d, control = lmerControl(check.rankX = "ignore", check.nobs.vs.nRE = "ignore", check.nobs.vs.nlev = "ignore"))
  X <- lf$X
  n <- nrow(X)
  keep <- seq_len(min(n, head_rows))
  cols <- function(m) lapply(seq_len(ncol(m)), function(j) unname(m[keep, j]))
  sums <- function(m) list(sum = unname(colSums(m)), sumsq = unname(colSums(m^2)))
  random <- list()
  for (t in seq_along(lf$reTrms$Ztlist)) {
    zt <- lf$reTrms$Ztlist[[t]]
    cn <- lf$reTrms$cnms[[t]]
    k <- length(cn)
    z <- as.matrix(t(zt))
    zterm <- sapply(seq_len(k), function(j) rowSums(z[, seq(j, ncol(z), by = k), drop = FALSE]))
    zterm <- matrix(zterm, nrow = n)
    random[[t]] <- list(group = names(lf$reTrms$cnms)[[t]], columns = cn, head = cols(zterm), totals = sums(zterm))
  }
  y <- model.response(lf$fr)
  new_x <- NULL
  if (cs$id %in% predict_cases) {
    tt <- terms(nobars(f))  # the fixed part, with the fit's knots, centres, ... (lme4's predvars.fixed)
    attr(tt, "predvars") <- attr(terms(lf$fr), "predvars.fixed")
    tt <- delete.response(tt)
    nx <- model.matrix(tt, model.frame(tt, new_rows(d)))
    new_x <- lapply(seq_len(ncol(nx)), function(j) unname(nx[, j]))
  }
  out[[cs$id]] <- list(
    id = cs$id,
    data = cs$data,
    formula = cs$formula,
    ours = if (nchar(cs$ours)) cs$ours else cs$formula,
    names = as.logical(cs$names),
    note = cs$note,
    nobs = n,
    rows = length(keep),
    x_names = colnames(X),
    x_head = cols(X),
    x_totals = sums(X),
    y_head = unname(y[keep]),
    random = random,
    new_x = new_x
  )
}
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")), cases = unname(out))
writeLines(toJSON(meta, auto_unbox = TRUE, digits = NA, pretty = FALSE), "model_matrix.json")
cat("wrote", length(out), "cases\n")
