# emmeans 1.8 (lme4 1.1-31) on grids with a nesting that emmeans detects from the data (its
# .find_nests): birds each in one nest (birds.csv), and a covariate coerced to a factor by
# factor(x > 0) whose every value occurs with one level of f (covariate_nested.csv). Writes
# emmeans_nesting.json: per call the grid's columns, emmean (or estimate), SE, df (Kenward-Roger) and,
# for pairs, the Tukey-adjusted p values; two_nestings.csv (two separate nestings); and
# formula_nested.csv (a nesting the formula says).
suppressMessages({library(lme4); library(emmeans); library(jsonlite)})
birds <- read.csv("birds.csv", stringsAsFactors = TRUE)
cov <- read.csv("covariate_nested.csv", stringsAsFactors = TRUE); cov$g <- factor(cov$g)
tab <- function(e) {
  s <- as.data.frame(summary(e))
  keep <- setdiff(names(s), c("lower.CL", "upper.CL", "t.ratio"))
  out <- lapply(s[keep], function(v) if (is.factor(v)) as.character(v) else v)
  out
}
calls <- list()
m1 <- lmer(resp ~ nest + bird * x + (1 | g), birds)
m2 <- lmer(resp ~ nest + bird + h + (1 | g), birds)
m3 <- lmer(y ~ factor(x > 0) * f + (1 | g), cov)
m4 <- lmer(y ~ factor(x > 0) + f + (1 | g), cov)
calls[["m1 nest"]] <- tab(emmeans(m1, "nest"))
calls[["m1 bird"]] <- tab(emmeans(m1, "bird"))
calls[["m1 pairs nest"]] <- tab(pairs(emmeans(m1, "nest")))
calls[["m1 pairs bird"]] <- tab(pairs(emmeans(m1, "bird")))
calls[["m2 h"]] <- tab(emmeans(m2, "h"))
calls[["m2 nest"]] <- tab(emmeans(m2, "nest"))
calls[["m2 bird h"]] <- tab(emmeans(m2, c("bird", "h")))
calls[["m2 h by bird"]] <- tab(emmeans(m2, "h", by = "bird"))
calls[["m2 1"]] <- tab(emmeans(m2, "1"))
# pairs within nests of unequal sizes, unadjusted (emmeans adjusts the panels of a nested grid as one
# family); nest C, with one bird, gives R's "(nothing)" row
calls[["m2 pairs bird by nest"]] <- tab(pairs(emmeans(m2, "bird"), by = "nest", adjust = "none"))
calls[["m3 f"]] <- tab(emmeans(m3, "f"))
calls[["m4 f"]] <- tab(emmeans(m4, "f"))
calls[["m3 pairs f"]] <- tab(pairs(emmeans(m3, "f")))
calls[["m1 trend nest"]] <- tab(emtrends(m1, "nest", var = "x"))
calls[["m1 trend bird"]] <- tab(emtrends(m1, "bird", var = "x"))
# two separate nestings (b in c, e in f): emmeans' automatic nesting fails there ("undefined columns
# selected"); with the one nesting given, its answer for t (an additive model: the same means)
two <- read.csv("two_nestings.csv", stringsAsFactors = TRUE); two$g <- factor(two$g)
m5 <- lmer(y ~ c + b + f + e + t + (1 | g), two)
calls[["m5 t"]] <- tab(emmeans(m5, "t", nesting = list(b = "c")))
# a nesting the formula says (c/b2, b2 %in% c) where b2's labels 1 and 2 repeat in each level of c
fn <- read.csv("formula_nested.csv", stringsAsFactors = TRUE); fn$g <- factor(fn$g); fn$b2 <- factor(fn$b2)
m6 <- lmer(y ~ c/b2 + t + (1 | g), fn)
m7 <- lmer(y ~ c + b2 %in% c + t + (1 | g), fn)
calls[["m6 b2"]] <- tab(emmeans(m6, "b2"))
calls[["m6 c"]] <- tab(emmeans(m6, "c"))
calls[["m7 b2"]] <- tab(emmeans(m7, "b2"))
# a nested factor averaged away leaves no nesting in the result: pairs by another factor as usual
m8 <- lmer(y ~ c/b2 + t + f + (1 | g), fn)
calls[["m8 pairs t by f"]] <- tab(pairs(emmeans(m8, "t", by = "f")))
# pairs across by panels of means that hold a nested factor: emmeans contrasts each panel and binds
# them (its .nested_contrast and rbind), adjusting them as one family; panels of unequal sizes each
# their own (its "(varies)")
m9 <- lmer(y ~ c + b + a + t + x + (1 | g), fn)
m10 <- lmer(y ~ c + b3 + t + (1 | g), fn)
calls[["m9 pairs t by b"]] <- tab(pairs(emmeans(m9, "t", by = "b")))
calls[["m9 pairs a by b"]] <- tab(pairs(emmeans(m9, "a", by = "b")))
calls[["m9 pairs t by a"]] <- tab(pairs(emmeans(m9, "t", by = "a")))
calls[["m9 pairs a by c"]] <- tab(pairs(emmeans(m9, "a", by = "c")))
calls[["m9 pairs a by c holm"]] <- tab(pairs(emmeans(m9, "a", by = "c"), adjust = "holm"))
calls[["m10 pairs b3 by c"]] <- tab(pairs(emmeans(m10, "b3", by = "c")))
writeLines(toJSON(calls, digits = NA, pretty = TRUE), "emmeans_nesting.json")
