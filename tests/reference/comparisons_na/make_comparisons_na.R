# lme4's fits of models whose stateful transforms (scale, bs, ns) read a comparison of a column
# with missing values, for tests/reference/test_comparisons_na.py.
#
#   cd tests/reference/comparisons_na && Rscript make_comparisons_na.R
#
# writes comparisons_na.csv (the data: g a grouping factor, w numeric, xna numeric and hna text with
# missing values, y, x.b a copy of xna) and comparisons_na.json: per formula, lme4's fixed-effects names and estimates
# and the REML criterion, and its predictions for 8 new rows (NA where R's model frame has NA); and emmeans'
# marginal means of hna beside a comparison term. R's NA > 0 is NA, so model.frame's scale(xna > 0) learns its centre and
# scale from the rows where xna is present (pandas compares NaN as False). The tests never run R.
suppressPackageStartupMessages({
  library(lme4)
  library(emmeans)
  library(splines)
  library(jsonlite)
})
set.seed(2026)
n <- 300
d <- data.frame(
  g = sprintf("g%02d", sample(1:25, n, TRUE)),
  w = round(rnorm(n), 6),
  xna = round(rnorm(n, 0.3), 6),
  hna = sample(c("a", "b", "c"), n, TRUE)
)
u <- rnorm(25)
names(u) <- sprintf("g%02d", 1:25)
d$y <- round(u[d$g] + 0.7 * (d$xna > 0) + 0.4 * d$w + 0.5 * (d$hna == "a") + rnorm(n), 6)
d$xna[sample(n, 45)] <- NA  # 15 % missing, another 10 % of hna
d$hna[sample(n, 30)] <- NA
d$x.b <- d$xna  # a name that formulaic aliases (a copy of xna)
write.csv(d, "comparisons_na.csv", row.names = FALSE, na = "")
d$g <- factor(d$g)
formulas <- c(
  "y ~ scale((xna > 0) * w) + (1 | g)",
  "y ~ scale(xna > 0) + (1 | g)",
  "y ~ scale(hna == \"a\") + (1 | g)",
  "y ~ scale(-(xna > 0)) + w + (1 | g)",
  "y ~ bs(w + (xna > 0), df = 4) + (1 | g)",
  "y ~ ns(w * (xna > -0.5), 3) + (1 | g)",
  "y ~ w + (1 + scale(xna > 0) | g)",
  "y ~ I((xna > 0) + 1) + scale(w) + (1 | g)",
  "y ~ scale(x.b > 0) + w + (1 | g)",
  "y ~ scale((x.b > 0) == (w > 0)) + (1 | g)",
  "y ~ w + offset(scale(xna)) + (1 | g)",
  "y ~ w + offset(0.5 * scale(xna > 0)) + (1 | g)",
  "y ~ w + (log(xna + 5) > 1.5) + (1 + (log(xna + 5) > 1.5) | g)"
)
# new rows for predict: the data's first 8, one with a missing xna, one whose log(xna + 5) is NaN
nd <- d[1:8, ]
nd$xna[2] <- NA
nd$xna[3] <- -10
nd$x.b <- nd$xna
cases <- lapply(formulas, function(f) {
  m <- lmer(as.formula(f), d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  list(
    formula = f,
    nobs = nobs(m),
    fixef_names = I(names(fixef(m))),
    fixef = I(unname(fixef(m))),
    reml_criterion = unname(REMLcrit(m)),
    predict = I(unname(predict(m, newdata = nd, na.action = na.pass)))
  )
})
# emmeans beside a comparison term: the compared covariate at its mean (xna > 0 there), not a factor
em_model <- lmer(y ~ (xna > 0) * hna + w + (1 | g), d, REML = TRUE)
em <- as.data.frame(summary(emmeans(em_model, "hna")))
emm <- list(formula = "y ~ (xna > 0) * hna + w + (1 | g)", levels = I(as.character(em$hna)),
            emmean = I(em$emmean), SE = I(em$SE), df = I(em$df))
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), cases = cases, emmeans = emm),
                  auto_unbox = TRUE, digits = I(15), pretty = TRUE), "comparisons_na.json")
