# R's numbers for tests/test_postestimation_adversarial.py (run from this folder):
#   Rscript make_adversarial.R   -> adversarial.json
# sleep_extra.csv: sleepstudy with Days missing in 3 rows, prior weights w, an offset off, a
# 3-level factor g and a 0/1 covariate x01 (drawn once in Python, seed 1).
suppressMessages({library(lme4); library(emmeans); library(jsonlite)})
d <- read.csv("sleep_extra.csv"); d$Subject <- factor(d$Subject); d$g <- factor(d$g)
cake <- read.csv("../../../python/mixedmodels/datasets/data/cake.csv")
cake$recipe <- factor(cake$recipe); cake$temperature <- factor(cake$temperature)
cake$replicate <- factor(cake$replicate)
tab <- function(e) { s <- as.data.frame(summary(e, infer = c(TRUE, TRUE))); s }
out <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  emmeans = as.character(packageVersion("emmeans")), pbkrtest = as.character(packageVersion("pbkrtest"))))

# prior weights: pbkrtest's vcovAdj (Phi = vcov(m)) and emmeans with KR
mw <- lmer(Reaction ~ Days + g + (1 | Subject), d, weights = w)
out$weights <- list(call = "lmer(Reaction ~ Days + g + (1 | Subject), d, weights = w)",
  vcovAdj = as.matrix(pbkrtest::vcovAdj(mw)), vcov = as.matrix(vcov(mw)),
  emmeans_g = tab(emmeans(mw, ~ g)))

# an offset() term: emmeans holds the offset's variable at its mean
mo <- lmer(Reaction ~ Days + g + offset(off) + (1 | Subject), d)
out$offset <- list(call = "lmer(Reaction ~ Days + g + offset(off) + (1 | Subject), d)",
  emmeans_g = tab(emmeans(mo, ~ g)))

# an empty cell (recipe C at 175): aliased column dropped, non-estimable means are NA
ce <- cake[!(cake$recipe == "C" & cake$temperature == "175"), ]
mc <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), ce)
out$empty_cell <- list(call = "lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake without C at 175)",
  emmeans_recipe = tab(emmeans(mc, ~ recipe)),
  emmeans_recipe_by_temperature = tab(emmeans(mc, ~ recipe | temperature)),
  pairs_recipe = tab(pairs(emmeans(mc, ~ recipe))),
  pairs_recipe_by_temperature = tab(pairs(emmeans(mc, ~ recipe | temperature))))
writeLines(toJSON(out, digits = I(15), na = "null", auto_unbox = TRUE, pretty = TRUE), "adversarial.json")
