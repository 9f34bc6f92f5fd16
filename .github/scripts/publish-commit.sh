#!/usr/bin/env bash
# Commits what `npm run publish` changed in a clone of the site repository, then pushes it (push mode) or
# opens or updates one pull request (pull-request mode). The site changes only when its bytes do: the
# same figures published again leave the clone clean, and then nothing is committed or pushed, and an
# open pull request that the default branch has caught up with is closed as superseded.
# Run by publish-site.yml in the site clone's top folder; tests/e2e/site.test.ts runs it on real repositories.
#
# Environment: SITE_PUBLISH_MODE (push | pull-request), SITE_BRANCH (push mode: the branch written),
# PR_BRANCH (pull-request mode: the one branch of the pull request), SITE_REPOSITORY (owner/name, for gh),
# SOURCE and RUN_URL (what built the figures: they go into the commit message, never into the site's files).
set -euo pipefail

: "${SITE_PUBLISH_MODE:?pull-request or push}" "${SOURCE:?what built the figures}"
title="Update figures from $SOURCE"
body="Figures rebuilt from $SOURCE${RUN_URL:+ by $RUN_URL}"
open_pr() { gh pr list -R "$SITE_REPOSITORY" --head "$PR_BRANCH" --state open --json number --jq '.[0].number // empty'; }

case "$SITE_PUBLISH_MODE" in
  push) : "${SITE_BRANCH:?the branch to push to}" ;;
  pull-request) : "${PR_BRANCH:?the pull request branch}" "${SITE_REPOSITORY:?owner/name}" ;;
  *) echo "error: SITE_PUBLISH_MODE must be pull-request or push, not '$SITE_PUBLISH_MODE'" >&2; exit 2 ;;
esac

if [ -z "$(git status --porcelain)" ]; then
  echo "The site already has these figures: nothing to commit."
  if [ "$SITE_PUBLISH_MODE" = pull-request ]; then
    pr="$(open_pr)"
    if [ -n "$pr" ]; then
      gh pr close "$pr" -R "$SITE_REPOSITORY" --delete-branch --comment "Superseded: the default branch already has the figures of $SOURCE."
      echo "Closed pull request #$pr: the default branch has caught up with it."
    fi
  fi
  exit 0
fi

if [ "$SITE_PUBLISH_MODE" = push ]; then
  git add -A
  git commit -q -m "$title" -m "$body"
  for attempt in 1 2 3; do
    if git push -q origin "HEAD:refs/heads/$SITE_BRANCH"; then
      echo "Pushed $(git rev-parse --short HEAD) to $SITE_BRANCH."
      exit 0
    fi
    echo "Push rejected (attempt $attempt); rebasing on $SITE_BRANCH"
    git pull -q --rebase origin "$SITE_BRANCH"
  done
  echo "error: could not push to $SITE_BRANCH" >&2
  exit 1
fi

# pull-request: one branch, always the site's default branch plus these figures.
base="$(git symbolic-ref --short HEAD)"
git switch -q -C "$PR_BRANCH"
git add -A
git commit -q -m "$title" -m "$body"
# The pull request already proposes exactly these changes (same patch, whatever the base did since): leave it.
patch() { git diff "$1^" "$1" | git patch-id --stable | cut -d' ' -f1; }
if git fetch -q --depth=2 origin "refs/heads/$PR_BRANCH" 2> /dev/null && [ "$(patch FETCH_HEAD)" = "$(patch HEAD)" ]; then
  echo "$PR_BRANCH already proposes these figures."
  pr="$(open_pr)"
  if [ -n "$pr" ]; then exit 0; fi
else
  git push -q --force origin "HEAD:refs/heads/$PR_BRANCH"
  echo "Pushed $(git rev-parse --short HEAD) to $PR_BRANCH."
  pr="$(open_pr)"
fi
if [ -n "$pr" ]; then
  gh pr edit "$pr" -R "$SITE_REPOSITORY" --title "$title" --body "$body"
else
  gh pr create -R "$SITE_REPOSITORY" --base "$base" --head "$PR_BRANCH" --title "$title" --body "$body"
fi
