# lmerTest's anova tables (types 1/2/3, Satterthwaite and Kenward-Roger) of models whose factors
# are made in the formula (factor(), as.factor(), ordered(), C(, contr.sum)) or whose interactions
# lack a margin (a / b, B + A:B, A*x + B:x, A:B + x), and of matrix-valued terms in an interaction
# (poly(), scale(), ns(): lmerTest does not count them with the numeric variables). Run from this folder:
#   Rscript make_anova_coding.R   -> anova_coding.json
# Data: the bundled cake (../../../python/mixedmodels/datasets/data/cake.csv; cake5 is cake less its
# first 5 rows, unbalanced) and anova_coding.csv (make_anova_coding_data.py, numpy seed 4117).
suppressPackageStartupMessages({library(lmerTest); library(jsonlite); library(splines)})
cake <- read.csv("../../../python/mixedmodels/datasets/data/cake.csv")
cake$recipe <- factor(cake$recipe); cake$temperature <- factor(cake$temperature)
cake$replicate <- factor(cake$replicate)
cake5 <- cake[-(1:5), ]
d <- read.csv("anova_coding.csv")
data <- list(cake = cake, cake5 = cake5, anova_coding = d)
cases <- list(
  list(id = "factor_interaction", data = "cake", formula = "angle ~ factor(temp) * recipe + (1 | recipe:replicate)"),
  list(id = "as_factor_interaction", data = "cake5", formula = "angle ~ as.factor(temp) * recipe + (1 | recipe:replicate)"),
  list(id = "ordered_interaction", data = "cake5", formula = "angle ~ ordered(temp) * recipe + (1 | recipe:replicate)"),
  list(id = "sum_contrasts", data = "cake", formula = "angle ~ C(recipe, contr.sum) * temperature + (1 | recipe:replicate)"),
  list(id = "ordered_cake", data = "cake", formula = "angle ~ ordered(temp) * recipe + (1 | recipe:replicate)"),
  list(id = "no_margins", data = "cake", formula = "angle ~ recipe:temperature + temp + (1 | recipe:replicate)"),
  list(id = "nested", data = "cake5", formula = "angle ~ recipe / temperature + (1 | recipe:replicate)"),
  list(id = "b_plus_ab", data = "anova_coding", formula = "y ~ B + A:B + (1 | g)"),
  list(id = "ax_plus_bx", data = "anova_coding", formula = "y ~ A * x + B:x + (1 | g)"),
  list(id = "poly_interaction", data = "anova_coding", formula = "y ~ poly(x, 2) * A + (1 | g)"),
  list(id = "scale_interaction", data = "anova_coding", formula = "y ~ scale(x) * A + (1 | g)"),
  list(id = "ns_interaction", data = "anova_coding", formula = "y ~ ns(x, 3) * A + (1 | g)")
)
rows <- function(an) lapply(seq_len(nrow(an)), function(i)
  c(list(term = rownames(an)[i]), lapply(as.list(an[i, ]), function(v) unname(v))))
out <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))),
            cases = list())
for (case in cases) {
  m <- suppressMessages(lmer(as.formula(case$formula), data[[case$data]], REML = TRUE))
  tables <- list()
  for (ty in 1:3) for (dd in c("Satterthwaite", "Kenward-Roger")) {
    an <- anova(m, type = ty, ddf = dd)
    key <- sprintf("type%d_%s", ty, if (dd == "Satterthwaite") "satterthwaite" else "kenward_roger")
    tables[[key]] <- list(heading = attr(an, "heading"), columns = names(an), table = rows(an))
  }
  tm <- terms(m)
  out$cases[[case$id]] <- list(
    data = case$data, formula = case$formula, nobs = nobs(m),
    theta = unname(getME(m, "theta")), REMLcrit = REMLcrit(m), fixef = as.list(fixef(m)),
    term_factors = lapply(setNames(attr(tm, "term.labels"), attr(tm, "term.labels")),
                          function(t) as.list(attr(tm, "factors")[, t][attr(tm, "factors")[, t] > 0])),
    anova = tables)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "anova_coding.json")
