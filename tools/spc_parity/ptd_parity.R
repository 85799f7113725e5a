# Record NHSRplotthedots' answers for the SPC parity corpus (see generate.py beside this file).
#
#   Rscript tools/spc_parity/ptd_parity.R cases.json answers.json
#
# Needs R (>= 4.1) with jsonlite, dplyr, rlang, tidyselect, assertthat, magrittr, stringr,
# ggplot2 and scales, and NHSRplotthedots: either installed, or its source tree (the folder
# holding DESCRIPTION and R/) named by the environment variable NHSRPLOTTHEDOTS_SRC, whose R/
# files are then sourced. Each case is charted with ptd_spc() and summary(); numbers are written
# with 17 significant digits so they read back bit for bit.

suppressPackageStartupMessages({
  library(jsonlite)
  library(dplyr)
  library(rlang)
})

args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 2)

# dplyr before 1.1.0 (Debian 12 ships 1.0.10) has no `.default` in case_when(): add it as the
# final `TRUE ~ .default` case, which is what 1.1.0 does.
if (utils::packageVersion("dplyr") < "1.1.0") {
  .case_when_1_0 <- dplyr::case_when
  .case_when_default <- function(..., .default = NULL) {
    cases <- list(...)
    if (!is.null(.default)) {
      cases <- c(cases, list(stats::as.formula(call("~", TRUE, .default), env = globalenv())))
    }
    do.call(.case_when_1_0, cases)
  }
  utils::assignInNamespace("case_when", .case_when_default, ns = "dplyr")
}

src <- Sys.getenv("NHSRPLOTTHEDOTS_SRC")
if (nzchar(src)) {
  # Into the global environment, so that S3 dispatch finds the package's methods.
  for (f in sort(list.files(file.path(src, "R"), pattern = "[.]R$", full.names = TRUE))) {
    sys.source(f, envir = globalenv())
  }
  version <- read.dcf(file.path(src, "DESCRIPTION"), fields = "Version")[[1]]
  ptd_summary <- summary
} else {
  library(NHSRplotthedots)
  version <- as.character(utils::packageVersion("NHSRplotthedots"))
  ptd_summary <- summary
}

num <- function(x) ifelse(is.na(x) & !is.nan(x), NA, ifelse(is.nan(x), "NaN", sprintf("%.17g", x)))

run_case <- function(cs) {
  values <- vapply(cs$values, function(v) if (is.null(v)) NA_real_ else as.numeric(v), numeric(1))
  df <- data.frame(x = as.Date(unlist(cs$dates)), y = values)
  call_args <- list(
    df,
    value_field = "y", date_field = "x",
    improvement_direction = cs$improvement,
    screen_outliers = isTRUE(cs$screen_outliers)
  )
  if (length(cs$rebase)) call_args$rebase <- as.Date(unlist(cs$rebase))
  if (!is.null(cs$fix_after)) call_args$fix_after_n_points <- cs$fix_after
  if (!is.null(cs$target)) call_args$target <- cs$target
  trial_warning <- FALSE
  res <- tryCatch(
    withCallingHandlers(
      {
        out <- do.call(ptd_spc, call_args)
        utils::capture.output(s <- ptd_summary(out))
        list(out = out, s = s)
      },
      warning = function(w) {
        if (grepl("trial limits", conditionMessage(w))) trial_warning <<- TRUE
        invokeRestart("muffleWarning")
      }
    ),
    error = function(e) e
  )
  if (inherits(res, "error")) {
    return(list(id = cs$id, error = conditionMessage(res)))
  }
  out <- res$out
  s <- res$s
  if (!"rebase_group" %in% names(s)) s$rebase_group <- 0
  if (!"assurance_type" %in% names(s)) s$assurance_type <- NA_character_
  list(
    id = cs$id,
    error = NULL,
    trial_limits_warning = trial_warning,
    rebase_group = out$rebase_group,
    mean = num(out$mean_col),
    lpl = num(out$lpl),
    upl = num(out$upl),
    outside_limits = out$outside_limits,
    relative_to_mean = out$relative_to_mean,
    close_to_limits = out$close_to_limits,
    special_cause_type = out$special_cause_type,
    point_type = out$point_type,
    short_group_warning = out$short_group_warning,
    segments = list(
      rebase_group = s$rebase_group,
      n = s$n,
      variation_type = s$variation_type,
      assurance_type = s$assurance_type
    )
  )
}

cases <- jsonlite::fromJSON(args[[1]], simplifyVector = FALSE)
answers <- lapply(cases, run_case)
jsonlite::write_json(
  list(
    nhsrplotthedots = version, r = R.version.string,
    dplyr = as.character(utils::packageVersion("dplyr")), answers = answers
  ),
  args[[2]],
  auto_unbox = TRUE, null = "null", na = "null", digits = NA
)
