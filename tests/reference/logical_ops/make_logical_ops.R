# lme4 1.1-31 with R's logical operators & | ! inside a formula's calls and terms. Writes
# logical_ops.json: per formula the REML criterion, the fixed effects (R's names), theta, and the
# predictions for newdata.csv with and without the random effects; and emmeans over k for two models. lme4 reads a '|' anywhere in a
# formula, a call's argument too, as a random-effects bar (findbars): a formula with R's | (keyed as
# mixedmodels reads it) is fitted here as its De Morgan equivalent with & and ! ("r" below).
suppressMessages({library(lme4); library(jsonlite); library(emmeans)})
d <- read.csv("logical_ops.csv", stringsAsFactors = TRUE)
nd <- read.csv("newdata.csv", stringsAsFactors = FALSE)
nd$g <- factor(nd$g, levels = levels(d$g))
formulas <- c(
  "y ~ I(x > 0 & z < 1) + (1 | g)",
  "y ~ (x > 0 & !flag) + z + (1 | g)",
  "y ~ I((x > 0 & flag) * 2 + z) + (1 | g)",
  "y ~ factor(!flag) + (1 + (x > 0 & z > 0) | g)",
  "y ~ I(!!flag) + x + (1 | g)",
  "y ~ I(k & flag) + I(!k) + (1 | g)",
  "y ~ I(x > 0 | z > 1) * z + (1 | g)",
  "y ~ scale(x > 0 | flag) + (1 | g)",
  "y ~ I(x > 0 & z > 0 | !flag) + (1 | g)",
  "y ~ I(x > 0 & (z > 0 | flag)) + (1 | g)",
  "y ~ I(1 + !flag) + (1 | g)",
  "y ~ I(x * !flag) + (1 | g)",
  "y ~ flag + I(x > 0 & flag) + (1 | g)",
  "y ~ flag * z + factor(!flag & z > 0) + (1 | g)",
  "y ~ flag + z + (0 + (x > 0 & flag) | g)",
  "y ~ I(x > 0 &\n  flag) + (1 | g)"
)
r <- c(formulas[1:6],
  "y ~ I(!(!(x > 0) & !(z > 1))) * z + (1 | g)",
  "y ~ scale(!(!(x > 0) & !flag)) + (1 | g)",
  "y ~ I(!(!(x > 0 & z > 0) & flag)) + (1 | g)",
  "y ~ I(x > 0 & !(!(z > 0) & !flag)) + (1 | g)",
  formulas[11:16]
)
out <- list()
for (i in seq_along(formulas)) {
  f <- formulas[i]
  m <- lmer(as.formula(r[i]), d)
  out[[f]] <- list(
    r = r[i],
    reml = unname(REMLcrit(m)),
    fixef = as.list(fixef(m)),
    theta = unname(getME(m, "theta")),
    predict = unname(predict(m, newdata = nd)),
    predict_fixed = unname(predict(m, newdata = nd, re.form = NA))
  )
}
# emmeans (Kenward-Roger) over k, a covariate inside a logical operator held at its mean, and a
# logical column averaged over
d$flag <- as.logical(d$flag)
emm <- list()
for (f in c("y ~ I(x > 0 & z < 1) + factor(k) + (1 | g)", "y ~ I(x > 0 & !flag) + factor(k) + (1 | g)")) {
  s <- summary(emmeans(lmer(as.formula(f), d), "k"))
  emm[[f]] <- list(emmean = s$emmean, SE = s$SE, df = s$df)
}
out[["emmeans"]] <- emm
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "logical_ops.json")
