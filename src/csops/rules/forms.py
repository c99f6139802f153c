from django import forms


class BacktestForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=366, initial=30, help_text="Days to replay, ending today."
    )
    step_days = forms.IntegerField(
        label="Every",
        min_value=1,
        max_value=366,
        initial=1,
        help_text="Replay every N-th day (faster for long windows).",
    )

    def clean(self):
        data = super().clean()
        if data.get("days") and data.get("step_days") and data["step_days"] > data["days"]:
            self.add_error("step_days", "Step through the window: at most the number of days.")
        return data
