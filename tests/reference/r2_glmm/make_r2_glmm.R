# Nakagawa's R² and the ICC of binomial GLMMs (logit and probit) as performance 0.10.2 / insight
# 0.19.0 compute them, for tests/reference/test_r2_predict_tidy.py. Run: Rscript make_r2_glmm.R
suppressMessages(library(lme4))
out <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            performance = as.character(packageVersion("performance")),
                            insight = as.character(packageVersion("insight"))))
cases <- list(
  cbpp_logit = list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", link = "logit"),
  cbpp_probit = list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", link = "probit")
)
for (id in names(cases)) {
  cs <- cases[[id]]
  m <- glmer(as.formula(cs$formula), cbpp, family = binomial(link = cs$link))
  r2 <- performance::r2_nakagawa(m)
  ic <- performance::icc(m)
  gv <- insight::get_variance(m)
  out[[id]] <- list(
    formula = cs$formula, dataset = "lme4::cbpp", family = "binomial", link = cs$link,
    fixef = as.list(fixef(m)), theta = unname(getME(m, "theta")),
    R2_marginal = unname(r2$R2_marginal), R2_conditional = unname(r2$R2_conditional),
    ICC_adjusted = ic$ICC_adjusted, ICC_unadjusted = ic$ICC_unadjusted,
    var_fixed = gv$var.fixed, var_random = gv$var.random, var_residual = gv$var.residual,
    var_distribution = gv$var.distribution)
}
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "r2_glmm.json")
