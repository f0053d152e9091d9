# lme4's numbers for the lecture's own code on High School and Beyond in its classic naming
# (issue 15, item 6): tests/reference/test_hsb_classic.py reads hsb_classic.json and never runs R.
#
#   cd tests/reference/hsb_classic && Rscript make_hsb_classic.R
#
# reads the bundled python/mixedmodels/datasets/data/hsb_classic.csv (a copy of
# ../shared/data/hsb_classic.csv: id is R's factor with sorted levels, the rest numbers), fits
# each formula with lme4's defaults (REML and ML), and writes per fit: fixef, their SEs and vcov,
# theta, sigma, VarCorr (SDs and correlations), the criterion and its parts, logLik, ranef and
# fitted values, lme4's messages; and a refit with much tighter optimiser tolerances (the optimum
# lme4's default only approaches: used for the tolerances, not as the reference). Numbers are
# written with full double precision (%.17g when %.15g does not round-trip).
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
d <- read.csv("../../../python/mixedmodels/datasets/data/hsb_classic.csv", colClasses = c(id = "character"))
d$id <- factor(d$id)

num <- function(x) {
  x <- as.double(x)
  s <- sprintf("%.15g", x)
  bad <- as.numeric(s) != x
  s[bad] <- sprintf("%.17g", x[bad])
  s[!is.finite(x)] <- "null"
  s
}
# a minimal JSON writer at full precision: named list -> object, unnamed list -> array, numeric
# vector -> array (scalar when wrapped in scalar()), matrix -> array of rows
scalar <- function(x) structure(x, class = "json_scalar")
js <- function(x) {
  if (is.null(x)) return("null")
  if (inherits(x, "json_scalar")) x <- unclass(x)
  else if (is.atomic(x) && !is.matrix(x) && (length(x) != 1 || !is.null(attr(x, "array")))) {
    return(paste0("[", paste(vapply(as.list(x), js, ""), collapse = ","), "]"))
  }
  if (is.matrix(x)) {
    return(paste0("[", paste(vapply(seq_len(nrow(x)), function(i) js(structure(unname(x[i, ]), array = TRUE)), ""), collapse = ","), "]"))
  }
  if (is.list(x)) {
    vals <- vapply(x, js, "")
    if (is.null(names(x))) return(paste0("[", paste(vals, collapse = ","), "]"))
    keys <- vapply(names(x), function(n) as.character(toJSON(n, auto_unbox = TRUE)), "")
    return(paste0("{", paste0(keys, ":", vals, collapse = ","), "}"))
  }
  if (is.logical(x)) return(if (is.na(x)) "null" else tolower(as.character(x)))
  if (is.character(x)) return(as.character(toJSON(x, auto_unbox = TRUE)))
  num(x)
}
arr <- function(x) structure(unname(as.double(x)), array = TRUE)
named <- function(x) as.list(setNames(as.double(x), names(x)))

fit_record <- function(formula, REML) {
  msgs <- character(0)
  warns <- character(0)
  m <- withCallingHandlers(
    lmer(as.formula(formula), data = d, REML = REML),
    message = function(e) { msgs <<- c(msgs, conditionMessage(e)); invokeRestart("muffleMessage") },
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") }
  )
  vc <- as.data.frame(VarCorr(m))
  re <- ranef(m, condVar = TRUE)$id
  pv <- attr(re, "postVar")
  tight <- lapply(c("bobyqa", "nloptwrap"), function(opt) {
    ctrl <- if (opt == "bobyqa") lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-3, rhoend = 1e-12, maxfun = 1e5))
            else lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14, ftol_rel = 1e-15, maxeval = 1e5))
    suppressWarnings(suppressMessages(lmer(as.formula(formula), data = d, REML = REML, control = ctrl)))
  })
  crit <- function(f) if (REML) REMLcrit(f) else deviance(f)
  best <- tight[[which.min(vapply(tight, crit, 0))]]
  cmp <- getME(m, "devcomp")$cmp
  list(
    formula = scalar(formula),
    REML = scalar(REML),
    nobs = scalar(nobs(m)),
    ngrps = named(ngrps(m)),
    fixef = named(fixef(m)),
    fixef_se = named(sqrt(diag(as.matrix(vcov(m))))),
    vcov = as.matrix(vcov(m)),
    theta = named(getME(m, "theta")),
    sigma = scalar(sigma(m)),
    varcorr = list(grp = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1), var2 = ifelse(is.na(vc$var2), "", vc$var2),
                   vcov = arr(vc$vcov), sdcor = arr(vc$sdcor)),
    objective = scalar(crit(m)),
    logLik = scalar(as.numeric(logLik(m))),
    devcomp = list(ldL2 = scalar(cmp[["ldL2"]]), ldRX2 = scalar(cmp[["ldRX2"]]), pwrss = scalar(cmp[["pwrss"]])),
    isSingular = scalar(isSingular(m)),
    messages = I(msgs),
    warnings = I(warns),
    ranef = list(levels = levels(d$id), intercept = arr(re[["(Intercept)"]]), ses = arr(re[["ses"]]),
                 condvar_intercept = arr(pv[1, 1, ]), condvar_ses = arr(pv[2, 2, ])),
    fitted = arr(fitted(m)),
    tight_refit = list(objective = scalar(crit(best)), theta = arr(getME(best, "theta")), fixef = arr(fixef(best)),
                       sigma = scalar(sigma(best)))
  )
}

formulas <- c(slope = "mathach ~ 1 + ses + (1 + ses | id)", sector = "mathach ~ 1 + ses*sector + (1 + ses | id)")
fits <- list()
for (id in names(formulas)) for (reml in c(TRUE, FALSE)) {
  fits[[paste0(id, if (reml) ".REML" else ".ML")]] <- fit_record(formulas[[id]], reml)
}
out <- list(software = list(R = scalar(R.version.string), lme4 = scalar(as.character(packageVersion("lme4"))),
                            Matrix = scalar(as.character(packageVersion("Matrix")))),
            data = scalar("python/mixedmodels/datasets/data/hsb_classic.csv"), fits = fits)
writeLines(js(out), "hsb_classic.json")
cat("wrote", length(fits), "fits\n")
